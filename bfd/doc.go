// Package bfd will own the BFD engine: the RFC 5880 packet codec and state
// machine, single-hop (RFC 5881) and multihop (RFC 5883) transports,
// authentication, the stability extension, S-BFD (RFC 7880/7881) and BFD
// inside DS-Lite softwires. Its core knows nothing of YANG; one adapter file
// maps /bfd of the generated tree to engine configuration and back.
//
// Not written yet: the BFD engine issue fills it.
package bfd
