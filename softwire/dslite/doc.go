// Package dslite is the DS-Lite data plane (RFC 6333): the AFTR, which
// ends IPv4-in-IPv6 softwires from B4s and translates their traffic with
// a NAT44 that tells subscribers apart by the B4's IPv6 address, and the
// B4, which carries its LAN's IPv4 to the active AFTR chosen from a list.
//
// Both work on layer-3 packets (the IPv6 packet of the tunnel side and
// the IPv4 packet of the other side): a link layer below them (packet I/O,
// Ethernet framing, ARP/NDP through softwire/netpkt) hands packets in and
// takes them out. Engines are single-threaded and allocate nothing per
// packet once a NAT session exists; timers are one wheel for all sessions.
// The package knows nothing of YANG: an adapter maps the tree onto
// AFTRConfig and B4Config.
//
// Inside every softwire the B4 is 192.0.0.2 and the AFTR 192.0.0.1
// (RFC 6333 §5.7); BFD between them runs inside the tunnel and the
// engines hand its packets to the BFD engine keyed by the B4's IPv6
// address.
package dslite
