// Package netpkt holds the packet-level pieces every softwire data plane
// shares (the lwAFTR, the DS-Lite AFTR and the B4): Internet checksums
// and their incremental update, IPv4 and IPv6 header helpers, ICMPv4 and
// ICMPv6 error building, IPv4 and IPv6 fragmentation into caller-owned
// buffers, a bounded reassembler, and ARP/NDP message building and next
// hop learning.
//
// Everything here works on byte slices the caller owns and allocates
// nothing per packet; the engines keep their own output queues and
// counters and call these functions to fill them.
package netpkt
