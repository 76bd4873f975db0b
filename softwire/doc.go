// Package softwire owns the IPv6 transition data planes and their adapters
// to the tree. Today it holds the lw4o6 lwAFTR of RFC 7596:
//
//   - lwaftr: the data plane over Ethernet frames (encapsulation,
//     decapsulation with the binding check, hairpinning, ICMP policy and
//     errors, fragmentation and reassembly, ARP and NDP, VLAN, filters,
//     on-a-stick) and Check, the pcap runner behind `wirebeat lwaftr check`;
//   - bindingtable: the binding table, (IPv4, PSID) lookups in constant
//     time, 24-byte slots, O(1) incremental changes;
//   - snabbconf: the parser of Snabb's softwire-config syntax, behind
//     `wirebeat import snabb-lwaftr`;
//   - pcapio: packet I/O on pcap files (live interfaces go through the
//     top-level pktio package).
//
// This package maps /softwire/lwaftr onto the engine (LwaftrConfig) and is
// the subsystem adapter (LwaftrSubsystem): it validates commits, runs the
// engine on its links while enabled, applies binding-table edits entry by
// entry between batches, and renders counters into the tree. The DS-Lite
// AFTR and the B4 are still to come.
package softwire
