package softwire

import (
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

// fillCounters renders engine counters into the tree's counters
// container (RFC 8676 and Snabb names).
func fillCounters(t *gen.WirebeatSoftwire_Softwire_Lwaftr_Counters, c *lwaftr.Counters) {
	v := func(x uint64) *uint64 { return &x }
	const ext, in = lwaftr.External, lwaftr.Internal
	t.RcvdIpv4Packets, t.RcvdIpv4Bytes = v(c.InFrames[ext]), v(c.InBytes[ext])
	t.RcvdIpv6Packets, t.RcvdIpv6Bytes = v(c.InFrames[in]), v(c.InBytes[in])
	t.SentIpv4Packets, t.SentIpv4Bytes = v(c.OutFrames[ext]), v(c.OutBytes[ext])
	t.SentIpv6Packets, t.SentIpv6Bytes = v(c.OutFrames[in]), v(c.OutBytes[in])
	t.HairpinIpv4Packets, t.HairpinIpv4Bytes = v(c.HairpinPackets), v(c.HairpinBytes)
	t.DropNoBindingIpv4Packets = v(c.DropNoBinding4)
	t.DropNoBindingIpv6Packets = v(c.DropNoBinding6)
	t.DropTtlZeroIpv4Packets = v(c.DropTTLZero)
	t.DropTooBigDfIpv4Packets = v(c.DropTooBig)
	t.DropIngressFilterPackets = v(c.DropInByFilter[ext] + c.DropInByFilter[in])
	t.DropEgressFilterPackets = v(c.DropOutByFilter[ext] + c.DropOutByFilter[in])
	t.DropPolicyInIcmpv4Packets = v(c.DropICMPPolicy[ext])
	t.DropPolicyInIcmpv6Packets = v(c.DropICMPPolicy[in])
	t.DropRateLimitIcmpv4Packets = v(c.ICMPRateLimited[ext])
	t.DropRateLimitIcmpv6Packets = v(c.ICMPRateLimited[in])
	t.DropBadChecksumIcmpv4Packets = v(c.DropBadChecksum[ext])
	t.DropNotIpv4Packets = v(c.DropMisplaced[ext])
	t.DropNotIpv6Packets = v(c.DropMisplaced[in])
	t.DroppedIpv4Fragments = v(c.DropFragments[ext])
	t.DroppedIpv6Fragments = v(c.DropFragments[in])
	t.InIpv4FragReassembled = v(c.ReassembledPackets[ext])
	t.InIpv6FragReassembled = v(c.ReassembledPackets[in])
	t.OutIpv4Frag = v(c.FragmentedPackets[ext])
	t.OutIpv6Frag = v(c.FragmentedPackets[in])
	t.OutIcmpv4ErrorPackets = v(c.ICMPErrorsSent[ext])
	t.OutIcmpv6ErrorPackets = v(c.ICMPErrorsSent[in])
	t.OutArpReplyPackets = v(c.ARPReplies)
	t.OutNdpNaPackets = v(c.NAReplies)
}
