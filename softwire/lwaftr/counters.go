package lwaftr

// Counters of the engine. Arrays are indexed by Port.
type Counters struct {
	InFrames, InBytes, OutFrames, OutBytes [2]uint64

	DropMalformed, DropBadVLAN, DropMisplaced [2]uint64
	DropInByFilter, DropOutByFilter           [2]uint64
	DropNoNextHopMAC, ICMPRateLimited         [2]uint64
	DropICMPPolicy, DropBadChecksum           [2]uint64
	DropFragments, ReassembledPackets         [2]uint64
	FragmentedPackets, ICMPErrorsSent         [2]uint64

	EncapPackets, EncapBytes        uint64
	DecapPackets, DecapBytes        uint64
	HairpinPackets, HairpinBytes    uint64
	DropNoBinding4, DropNoBinding6  uint64
	DropTTLZero, DropTooBig         uint64
	DropNotForUs6, DropUnknownProto uint64
	EchoReplies                     uint64
	ARPReplies, NAReplies           uint64
}

// Map returns the non-zero counters under stable names, for the
// COUNTERS file of `wirebeat lwaftr check`.
func (c *Counters) Map() map[string]uint64 {
	m := map[string]uint64{}
	put := func(name string, v uint64) {
		if v != 0 {
			m[name] = v
		}
	}
	for p, n := range []string{"ipv4", "ipv6"} {
		put("in-"+n+"-frames", c.InFrames[p])
		put("in-"+n+"-bytes", c.InBytes[p])
		put("out-"+n+"-frames", c.OutFrames[p])
		put("out-"+n+"-bytes", c.OutBytes[p])
		put("drop-malformed-"+n, c.DropMalformed[p])
		put("drop-bad-vlan-"+n, c.DropBadVLAN[p])
		put("drop-misplaced-not-"+n, c.DropMisplaced[p])
		put("drop-in-by-filter-"+n, c.DropInByFilter[p])
		put("drop-out-by-filter-"+n, c.DropOutByFilter[p])
		put("drop-no-next-hop-mac-"+n, c.DropNoNextHopMAC[p])
		put("icmp-rate-limited-"+n, c.ICMPRateLimited[p])
		put("drop-in-by-policy-icmp-"+n, c.DropICMPPolicy[p])
		put("drop-bad-checksum-"+n, c.DropBadChecksum[p])
		put("drop-"+n+"-frag", c.DropFragments[p])
		put(n+"-reassembled", c.ReassembledPackets[p])
		put(n+"-fragmented", c.FragmentedPackets[p])
		put("icmp-errors-sent-"+n, c.ICMPErrorsSent[p])
	}
	put("encap-packets", c.EncapPackets)
	put("encap-bytes", c.EncapBytes)
	put("decap-packets", c.DecapPackets)
	put("decap-bytes", c.DecapBytes)
	put("hairpin-ipv4-packets", c.HairpinPackets)
	put("hairpin-ipv4-bytes", c.HairpinBytes)
	put("drop-no-dest-softwire-ipv4", c.DropNoBinding4)
	put("drop-no-source-softwire-ipv6", c.DropNoBinding6)
	put("drop-ttl-zero-ipv4", c.DropTTLZero)
	put("drop-too-big-ipv4", c.DropTooBig)
	put("drop-not-for-us-ipv6", c.DropNotForUs6)
	put("drop-unknown-protocol", c.DropUnknownProto)
	put("echo-replies", c.EchoReplies)
	put("arp-replies", c.ARPReplies)
	put("na-replies", c.NAReplies)
	return m
}
