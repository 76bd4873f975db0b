// Package bfd will own the BFD engine: the RFC 5880 packet codec and state
// machine, single-hop (RFC 5881) and multihop (RFC 5883) transports,
// authentication, the stability extension, S-BFD (RFC 7880/7881) and BFD
// inside DS-Lite softwires. Its core knows nothing of YANG; one adapter file
// maps /bfd of the generated tree to engine configuration and back.
//
// Written so far: the Control packet codec (Packet, with the packet-only
// reception checks of RFC 5880 section 6.8.6 and the stability extension's
// Null-Authentication section) and keyed MD5/SHA1 signing and verification.
// The state machine, transports and the rest are still to come.
package bfd
