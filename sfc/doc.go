// Package sfc will own service function chaining: the classifier, SF maps
// and policy tables, SF node and boundary node forwarding, loop detection
// and SF liveness, with NSH (RFC 8300) on the wire. One adapter file maps
// /sfc of the generated tree to engine configuration and state back.
//
// Not written yet: the SFC issue fills it.
package sfc
