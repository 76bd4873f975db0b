// Package bfd is the BFD engine of the element: RFC 5880 sessions with
// their state machine, timers, Poll/Final, demand mode, passive role and
// authentication (simple password, keyed and meticulous keyed MD5 and
// SHA1 with the sequence rules of section 6.7), the stability extension of
// seed 002 (a Null-Authentication section with sequence numbers and send
// timestamps; loss, duplicates, reordering and delays measured on receipt),
// S-BFD (RFC 7880: a stateless Reflector and initiator sessions), and BFD
// inside DS-Lite softwires (sessions keyed by the B4's outer IPv6 address,
// dynamic passive sessions at the AFTR).
//
// The core knows nothing of sockets or YANG:
//
//   - Packet is the Control packet codec (Decode applies the packet-only
//     checks of section 6.8.6; AppendEncode; SignMD5/SHA1, VerifyMD5/SHA1).
//   - Engine holds every session of the element, allocates discriminators
//     unique per element, and drives all timers from one min-heap with one
//     goroutine (Run), on an injectable Clock so that tests are exact.
//     Transports hand it received packets (Receive, in batches) and give it
//     a Sender per session; packets go out batched through Flusher.
//   - Reflector answers S-BFD packets for its discriminators.
//
// Subpackages: transport (UDP for RFC 5881/5883 and S-BFD, batched with
// recvmmsg/sendmmsg), adapter (the /bfd tree: configuration, state,
// notifications), interop (tests against FRR bfdd, BIRD 2 and between two
// engines, and the scale benchmarks).
//
// Not implemented: the Echo function (DiagEchoFunctionFailed can only be
// signalled from outside with SignalDiag).
package bfd
