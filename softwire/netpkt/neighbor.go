package netpkt

// BroadcastMAC is the Ethernet broadcast address.
var BroadcastMAC = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ARP operations (RFC 826).
const (
	ARPRequest = 1
	ARPReply   = 2
)

// ARPLen is the length of an Ethernet/IPv4 ARP message.
const ARPLen = 28

// ARP is a parsed Ethernet/IPv4 ARP message; the slices point into the
// packet.
type ARP struct {
	Op                 uint16
	SHA, SPA, THA, TPA []byte
}

// ParseARP decodes an Ethernet/IPv4 ARP message (RFC 826).
func ParseARP(p []byte) (ARP, bool) {
	if len(p) < ARPLen || be.Uint16(p[0:]) != 1 || be.Uint16(p[2:]) != EtherTypeIPv4 || p[4] != 6 || p[5] != 4 {
		return ARP{}, false
	}
	return ARP{Op: be.Uint16(p[6:]), SHA: p[8:14], SPA: p[14:18], THA: p[18:24], TPA: p[24:28]}, true
}

// WriteARP writes an Ethernet/IPv4 ARP message into r (ARPLen bytes);
// tha nil writes zeros (a request).
func WriteARP(r []byte, op uint16, sha, spa, tha, tpa []byte) {
	be.PutUint16(r[0:], 1)
	be.PutUint16(r[2:], EtherTypeIPv4)
	r[4], r[5] = 6, 4
	be.PutUint16(r[6:], op)
	copy(r[8:14], sha)
	copy(r[14:18], spa)
	if tha == nil {
		clear(r[18:24])
	} else {
		copy(r[18:24], tha)
	}
	copy(r[24:28], tpa)
}

// Neighbour discovery message types (RFC 4861 §4).
const (
	ICMPv6NeighborSolicitation  = 135
	ICMPv6NeighborAdvertisement = 136
)

// NDLen is the length of the IPv6 packet of a neighbour solicitation or
// advertisement with one link-layer address option, as WriteNS and
// WriteNA build them.
const NDLen = 40 + 32

// NDOption finds a link-layer address option of the given type (1
// source, 2 target) in the options of a neighbour discovery message.
func NDOption(opts []byte, typ byte) []byte {
	for len(opts) >= 8 {
		l := int(opts[1]) * 8
		if l == 0 || l > len(opts) {
			return nil
		}
		if opts[0] == typ && l >= 8 {
			return opts[2:8]
		}
		opts = opts[l:]
	}
	return nil
}

// NDTarget returns the target address of a neighbour solicitation or
// advertisement (the IPv6 packet p), its link-layer address option of
// type opt, and ok=false when the message is too short or its hop limit
// is not 255 (RFC 4861 §7.1.1, §7.1.2).
func NDTarget(p []byte, opt byte) (target, lladdr []byte, ok bool) {
	if len(p) < 40+24 || p[7] != 255 {
		return nil, nil, false
	}
	m := p[40:]
	return m[8:24], NDOption(m[24:], opt), true
}

// WriteNA writes into h (NDLen bytes) a solicited neighbour advertisement
// (RFC 4861 §7.2.4) from src to dst for target with our mac, with the
// router flag when router is set.
func WriteNA(h []byte, src, dst, target []byte, mac []byte, router bool) {
	WriteIPv6Header(h, 0, 32, ProtoICMPv6, src, dst)
	r := h[40:NDLen]
	r[0], r[1], r[2], r[3] = ICMPv6NeighborAdvertisement, 0, 0, 0
	r[4], r[5], r[6], r[7] = 0x40, 0, 0, 0 // solicited
	if router {
		r[4] |= 0x80
	}
	copy(r[8:24], target)
	r[24], r[25] = 2, 1
	copy(r[26:32], mac)
	be.PutUint16(r[2:], ICMPv6Checksum(h[8:24], h[24:40], r))
}

// SolicitedNode returns the solicited-node multicast address of target
// (RFC 4291 §2.7.1) and its Ethernet multicast MAC (RFC 2464 §7).
func SolicitedNode(target []byte) (ip [16]byte, mac [6]byte) {
	ip[0], ip[1], ip[11], ip[12] = 0xff, 0x02, 1, 0xff
	copy(ip[13:], target[13:16])
	mac = [6]byte{0x33, 0x33, 0xff, target[13], target[14], target[15]}
	return ip, mac
}

// WriteNS writes into h (NDLen bytes) a neighbour solicitation from src
// for target to its solicited-node address, with our mac as source
// link-layer address, and returns the Ethernet destination to send it to.
func WriteNS(h []byte, src, target, mac []byte) [6]byte {
	dst, dmac := SolicitedNode(target)
	WriteIPv6Header(h, 0, 32, ProtoICMPv6, src, dst[:])
	r := h[40:NDLen]
	r[0], r[1], r[2], r[3] = ICMPv6NeighborSolicitation, 0, 0, 0
	clear(r[4:8])
	copy(r[8:24], target)
	r[24], r[25] = 1, 1
	copy(r[26:32], mac)
	be.PutUint16(r[2:], ICMPv6Checksum(h[8:24], h[24:40], r))
	return dmac
}

// NextHop is the link-layer address of one next hop: configured, or
// learnt from its ARP messages or neighbour advertisements.
type NextHop struct {
	IP         []byte // 4 or 16 bytes; nil when the MAC is configured
	Configured bool
	MAC        [6]byte
	Known      bool
}

// NewNextHop is a next hop at ip, with mac configured when set.
func NewNextHop(ip []byte, mac [6]byte, set bool) NextHop {
	return NextHop{IP: ip, Configured: set, MAC: mac, Known: set}
}

// Learn records mac as the next hop's when ip is the next hop's address
// and its MAC is not configured. It reports whether it learnt.
func (n *NextHop) Learn(ip, mac []byte) bool {
	if n.Configured || len(n.IP) == 0 || len(mac) != 6 || string(ip) != string(n.IP) {
		return false
	}
	copy(n.MAC[:], mac)
	n.Known = true
	return true
}
