// Package transport carries BFD Control packets over UDP for the bfd engine:
// single hop (RFC 5881: port 3784, TTL 255 sent and required, bound to an
// interface) and multihop (RFC 5883: port 4784, a minimum received TTL),
// over IPv4 and IPv6, with batched socket I/O (recvmmsg/sendmmsg through
// golang.org/x/net's ipv4 and ipv6 PacketConn).
//
// One UDP transport serves every session of its kind, family and interface
// (or local address): a receive socket on the well-known port and a send
// socket bound to a source port in 49152-65535. Packets go out in batches
// when the engine flushes at the end of each round.
package transport
