// Package softwire will own the IPv6 transition data planes: the lw4o6
// lwAFTR of RFC 7596 with its binding table and failover, the DS-Lite AFTR
// of RFC 6333 with its NAT44, the B4, and their packet I/O drivers (pcap
// files, AF_PACKET, AF_XDP). One adapter file maps /softwire of the
// generated tree to engine configuration and counters back.
//
// Not written yet: the lwAFTR and DS-Lite issues fill it.
package softwire
