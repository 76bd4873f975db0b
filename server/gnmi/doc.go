// Package gnmi will own the gNMI server (Capabilities, Get, Set, Subscribe
// over gRPC with TLS), speaking to the element core of package server.
//
// Not written yet: the gNMI issue fills it.
package gnmi
