// Package cli will own the operators' SSH command line, speaking to the
// element core of package server.
//
// Not written yet: the CLI issue fills it.
package cli
