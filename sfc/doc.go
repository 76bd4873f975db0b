// Package sfc owns service function chaining (seed 004, with NSH per RFC
// 8300 on the wire). The engine core lives in subpackages that know
// nothing of YANG: nsh (the header codec), classify (the classifier),
// node (boundary, classifier, SF node and proxy data plane, policy tables,
// liveness, counters) and transport (VXLAN-GPE and UDP sockets, batched;
// NSH over Ethernet, external interfaces and TUN interfaces, all through
// pktio ports). This package is the adapter: it maps /sfc of the
// generated tree to a node configuration, runs the I/O, watches locators
// with BFD sessions in the element's BFD engine, and renders state and
// notifications back.
//
// How an element joins a domain (the live tests in sfc/live do exactly
// this):
//
//   - Between nodes, NSH travels in VXLAN-GPE (UDP 4790) from and to
//     encapsulation/local-address, or directly over Ethernet (EtherType
//     0x894F) on encapsulation/interface between nodes of one link: a
//     pktio port (AF_PACKET rings) on that interface, next hops' MACs
//     configured per locator or resolved with ARP/NDP from the shared
//     softwire/netpkt codecs.
//   - A boundary may read its outside traffic straight from
//     node/external-interface (a pktio port; forwarding off on the
//     interface so the host does not route it as well) instead of the
//     host routing it into routing-interface.
//   - A boundary or classifier creates node/routing-interface, a TUN. The
//     host routes the traffic entering the domain into it (for example
//     `ip rule add iif EXT lookup 100; ip route add default dev TUN table
//     100`); what leaves the domain, NSH removed, and what matches no
//     rule are written back to it and routed by the host (reverse-path
//     filtering off on the TUN).
//   - An SF node with local-function proxy creates to-interface and
//     from-interface, two TUNs: the NSH-unaware function receives the
//     packets on the first and sends them back out of the second (move
//     both into the function's namespace, route its output to the
//     second).
//   - On a boundary, NSH arriving from an address that is neither a
//     boundary node nor a locator is from outside the domain: its NSH is
//     removed and the packet classified afresh (seed 004 section 11).
package sfc
