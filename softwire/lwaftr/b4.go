package lwaftr

import "github.com/wirebeat/wirebeat/softwire/netpkt"

// fromB4 handles an IPv6 packet from the B4 side; eth holds the
// destination and source MACs of its frame.
func (e *Engine) fromB4(p []byte, eth []byte) {
	if len(p) < 40 || p[0]>>4 != 6 {
		e.C.DropMalformed[Internal]++
		return
	}
	pl := int(be.Uint16(p[4:]))
	if 40+pl > len(p) {
		e.C.DropMalformed[Internal]++
		return
	}
	p = p[:40+pl]
	if p[6] == 44 {
		whole, st, n := e.r6.Add6(e.now().UnixNano(), p, e.scratch)
		var ok bool
		if p, ok = e.reassembled(Internal, whole, st, n); !ok {
			return
		}
	}
	switch p[6] {
	case 4:
		e.decap(p)
	case 58:
		e.icmpv6(p, eth)
	case 17:
		if e.local == nil || string(p[24:40]) != string(e.cfg.Internal.IP) || !e.local.LocalUDP(p) {
			e.C.DropUnknownProto++
		}
	default:
		e.C.DropUnknownProto++
	}
}

// sourcePort4 returns the port that identifies the sender of an IPv4
// packet from a B4: the source port, or for ICMP the echo identifier of a
// request and otherwise the first 16 bits of the message (so a B4 cannot
// claim another's port set with an error or a reply).
func sourcePort4(p []byte) (uint16, bool) {
	ihl := int(p[0]&0xf) * 4
	l4 := p[ihl:]
	if p[9] == 1 {
		if len(l4) < 8 {
			return 0, false
		}
		if l4[0] == 8 {
			return be.Uint16(l4[4:]), true
		}
		return be.Uint16(l4[0:]), true
	}
	if len(l4) < 2 {
		return 0, false
	}
	return be.Uint16(l4), true
}

// decap checks an IPv4-in-IPv6 packet against the binding table and
// forwards its IPv4 payload: back to a B4 (hairpinning) or to the
// Internet. The TTL is not decremented here: the B4 is the previous hop.
func (e *Engine) decap(p []byte) {
	inner, ok := netpkt.CheckIPv4(p[40:])
	if !ok || netpkt.IsFragment4(inner) {
		e.C.DropMalformed[Internal]++
		return
	}
	port, ok := sourcePort4(inner)
	if !ok {
		e.C.DropMalformed[Internal]++
		return
	}
	b4, br, found := e.bt.Lookup(be.Uint32(inner[12:]), port)
	if !found || string(b4[:]) != string(p[8:24]) || string(br[:]) != string(p[24:40]) {
		if e.unknown != nil {
			switch e.unknown.Unknown(p, be.Uint32(inner[12:]), port) {
			case UnknownTaken:
				return
			case UnknownDrop:
				e.C.DropNoBinding6++
				return
			}
		}
		e.C.DropNoBinding6++
		if e.allowError(Internal) {
			e.icmpv6Error(1, 5, p, 0, p[24:40])
		}
		return
	}
	if e.marks != nil {
		e.marks.Mark(b4, be.Uint32(inner[12:]))
	}
	e.C.DecapPackets++
	e.C.DecapBytes += uint64(len(inner))
	if e.cfg.Hairpinning && e.bt.HasAddress(be.Uint32(inner[16:])) {
		e.forward4(inner, nil, true)
		return
	}
	e.toInet(inner)
}

// icmpv6Error sends an ICMPv6 error (RFC 4443) about packet p to its
// source, from our internal address, quoting as much as fits in 1280
// bytes.
func (e *Engine) icmpv6Error(typ, code byte, p []byte, param uint32, _ []byte) {
	b, off := e.alloc(Internal, nil, etIPv6)
	n := netpkt.BuildICMPv6Error(b[off:], typ, code, e.cfg.Internal.IP, p, param)
	e.C.ICMPErrorsSent[Internal]++
	e.commit(Internal, off+n, etIPv6, off)
}

// icmpv6 handles ICMPv6 addressed to the lwAFTR: neighbour discovery,
// pings to our address, and errors about packets we sent to B4s, which
// become ICMPv4 errors to the Internet host that sent the original
// (RFC 7596 §5.2; RFC 2473 §8).
func (e *Engine) icmpv6(p []byte, eth []byte) {
	m := p[40:]
	if len(m) < 8 || netpkt.ICMPv6Checksum(p[8:24], p[24:40], m) != 0 {
		e.C.DropBadChecksum[Internal]++
		return
	}
	ours := string(p[24:40]) == string(e.cfg.Internal.IP)
	switch m[0] {
	case 135:
		e.neighborSolicitation(p, eth)
		return
	case 136:
		e.neighborAdvertisement(p, eth)
		return
	case 128:
		if ours {
			e.echoReply6(p, eth)
			return
		}
	case 1, 2, 3, 4:
		if !e.cfg.Internal.AllowIncomingICMP {
			e.C.DropICMPPolicy[Internal]++
			return
		}
		e.icmpv6ErrorIn(m)
		return
	}
	if !e.cfg.Internal.AllowIncomingICMP {
		e.C.DropICMPPolicy[Internal]++
		return
	}
	e.C.DropUnknownProto++
}

// icmpv6ErrorIn relays an ICMPv6 error about one of our encapsulated
// packets to the IPv4 host behind it.
func (e *Engine) icmpv6ErrorIn(m []byte) {
	q := m[8:]
	if len(q) < 40+20 || q[6] != 4 {
		e.C.DropMalformed[Internal]++
		return
	}
	srcOK := string(q[8:24]) == string(e.cfg.Internal.IP) || e.bt.IsBR((*[16]byte)(q[8:24]))
	if !srcOK {
		e.C.DropNotForUs6++
		return
	}
	inner := q[40:]
	if inner[0]>>4 != 4 {
		e.C.DropMalformed[Internal]++
		return
	}
	var code byte = 1
	var mtu uint16
	switch {
	case m[0] == 2:
		code = 4
		v := be.Uint32(m[4:])
		if v < 40+68 {
			v = 40 + 68
		}
		mtu = uint16(min(v-40, 65535))
	case m[0] == 3 && m[1] == 1:
		// Reassembly time exceeded at the B4: nothing the IPv4 sender can
		// do about it.
		e.C.DropUnknownProto++
		return
	}
	if !e.allowError(External) {
		return
	}
	e.icmpv4Error(3, code, inner, mtu)
}

// echoReply6 answers a ping to our internal address: addresses and MACs
// swapped, hop limit 64.
func (e *Engine) echoReply6(p []byte, eth []byte) {
	if len(p) > e.cfg.Internal.MTU {
		// A reply bigger than our MTU would need fragmenting; pings that
		// large are not worth it.
		e.C.DropTooBig++
		return
	}
	b, off := e.alloc(Internal, eth[6:12], etIPv6)
	q := b[off : off+len(p)]
	copy(q, p)
	copy(q[8:24], p[24:40])
	copy(q[24:40], p[8:24])
	q[7] = 64
	m := q[40:]
	m[0] = 129
	m[2], m[3] = 0, 0
	be.PutUint16(m[2:], netpkt.ICMPv6Checksum(q[8:24], q[24:40], m))
	copy(b[6:12], eth[0:6])
	e.C.EchoReplies++
	e.commit(Internal, off+len(p), etIPv6, off)
}
