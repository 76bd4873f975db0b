// Package netconf will own the NETCONF server over SSH (RFC 6241/6242,
// notifications of RFC 5277, monitoring of RFC 6022, YANG library of RFC
// 8525), speaking to the element core of package server.
//
// Not written yet: the NETCONF issue fills it.
package netconf
