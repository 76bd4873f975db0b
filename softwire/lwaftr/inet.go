package lwaftr

import (
	"encoding/binary"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

var be = binary.BigEndian

// fromInet handles an IPv4 packet from the Internet; eth holds the
// destination and source MACs of its frame.
func (e *Engine) fromInet(p []byte, eth []byte) {
	p, ok := netpkt.CheckIPv4(p)
	if !ok {
		e.C.DropMalformed[External]++
		return
	}
	if netpkt.IsFragment4(p) {
		whole, st, n := e.r4.Add4(e.now().UnixNano(), p, e.scratch)
		if p, ok = e.reassembled(External, whole, st, n); !ok {
			return
		}
	}
	e.forward4(p, eth, false)
}

// forward4 is the routing decision for a whole IPv4 packet heading to a
// B4: answer pings to us, apply the ICMP policy, find the softwire,
// decrement the TTL and encapsulate.
func (e *Engine) forward4(p []byte, eth []byte, hairpin bool) {
	ihl := int(p[0]&0xf) * 4
	dst := be.Uint32(p[16:])
	proto := p[9]
	l4 := p[ihl:]
	if !hairpin && dst == e.extIP {
		if proto == 1 && len(l4) >= 8 && l4[0] == 8 && netpkt.Checksum(l4) == 0 {
			e.echoReply4(p, eth)
			return
		}
		e.C.DropUnknownProto++
		return
	}
	var port uint16
	icmpError := false
	if proto == 1 {
		if !hairpin && !e.cfg.External.AllowIncomingICMP {
			e.C.DropICMPPolicy[External]++
			return
		}
		if len(l4) < 8 || netpkt.Checksum(l4) != 0 {
			e.C.DropBadChecksum[External]++
			return
		}
		// No ICMP error ever answers an ICMP message (RFC 1122 §3.2.2,
		// RFC 7596 §8.1).
		icmpError = true
		switch l4[0] {
		case 0:
			// An echo reply answers a request the B4 sent: its
			// identifier is the B4's "port".
			port = be.Uint16(l4[4:])
		case 8:
			// An echo request from outside carries an identifier the
			// remote chose, which says nothing about which B4 sharing
			// the address it is for; like Snabb, the first 16 bits of
			// the message stand for the port, so only a softwire whose
			// port set covers 0x0800 (or a whole address) receives it.
			port = be.Uint16(l4[0:])
		case 3, 11, 12: // errors: the source port of the packet they quote
			q := l4[8:]
			if len(q) < 20 || len(q) < int(q[0]&0xf)*4+2 {
				e.C.DropMalformed[External]++
				return
			}
			port = be.Uint16(q[int(q[0]&0xf)*4:])
		default:
			e.C.DropUnknownProto++
			return
		}
	} else {
		if len(l4) < 4 {
			e.C.DropMalformed[External]++
			return
		}
		port = be.Uint16(l4[2:])
	}
	b4, br, ok := e.bt.Lookup(dst, port)
	if !ok {
		if e.unknown != nil && !hairpin {
			switch e.unknown.UnknownDestination(p, dst, port) {
			case UnknownTaken:
				return
			case UnknownDrop:
				e.C.DropNoBinding4++
				return
			}
		}
		e.C.DropNoBinding4++
		if !icmpError && e.allowError(External) {
			e.icmpv4Error(3, 1, p, 0)
		}
		return
	}
	if p[8] <= 1 {
		e.C.DropTTLZero++
		if !icmpError && e.allowError(External) {
			q := e.decTTLCopy(p)
			e.icmpv4Error(11, 0, q, 0)
		}
		return
	}
	mtu := e.cfg.Internal.MTU
	if len(p)+40 > mtu && be.Uint16(p[6:])&0x4000 != 0 {
		e.C.DropTooBig++
		if !icmpError && e.allowError(External) {
			q := e.decTTLCopy(p)
			e.icmpv4Error(3, 4, q, uint16(mtu-40))
		}
		return
	}
	if e.marks != nil {
		e.marks.Mark(b4, dst)
	}
	if hairpin {
		e.C.HairpinPackets++
		e.C.HairpinBytes += uint64(len(p))
	}
	e.encap(p, b4, br)
}

// decTTLCopy copies p into the scratch buffer with the TTL decremented,
// as the quoted packet of time-exceeded and too-big errors.
func (e *Engine) decTTLCopy(p []byte) []byte { return netpkt.DecTTLCopy(e.scratch, p) }

// encap sends p (TTL not yet decremented) to the B4 in IPv6, fragmenting
// when it exceeds the internal MTU.
func (e *Engine) encap(p []byte, b4, br *[16]byte) {
	mtu := e.cfg.Internal.MTU
	e.C.EncapPackets++
	e.C.EncapBytes += uint64(len(p))
	if len(p)+40 > mtu {
		e.fragment6(p, b4, br)
		return
	}
	b, off := e.alloc(Internal, nil, etIPv6)
	h := b[off:]
	netpkt.WriteIPv6Header(h, p[1], len(p), 4, br[:], b4[:])
	q := h[40:]
	copy(q, p)
	q[8]--
	netpkt.SetIPv4Checksum(q)
	e.commit(Internal, off+40+len(p), etIPv6, off)
}

// toInet sends a decapsulated IPv4 packet out of the external side,
// fragmenting it to the external MTU.
func (e *Engine) toInet(p []byte) {
	if len(p) > e.cfg.External.MTU {
		if be.Uint16(p[6:])&0x4000 != 0 {
			e.C.DropTooBig++
			return
		}
		e.fragment4(p)
		return
	}
	b, off := e.alloc(External, nil, etIPv4)
	copy(b[off:], p)
	e.commit(External, off+len(p), etIPv4, off)
}

// icmpv4Error builds an ICMPv4 error about packet p (RFC 792) from our
// external address to p's source, quoting as much of p as fits in 576
// bytes, and routes it: to a B4 when the source is one of ours and
// hairpinning is on, else to the Internet.
func (e *Engine) icmpv4Error(typ, code byte, p []byte, mtu uint16) {
	b := netpkt.BuildICMPv4Error(e.icmpBuf, typ, code, e.cfg.External.IP, p, mtu)
	e.C.ICMPErrorsSent[External]++
	e.route4(b)
}

// route4 sends an IPv4 packet we generated: to a B4 when its destination
// is one of ours and hairpinning is on, else out of the external side.
func (e *Engine) route4(b []byte) {
	if e.cfg.Hairpinning && e.bt.HasAddress(be.Uint32(b[16:])) {
		e.forward4(b, nil, true)
		return
	}
	o, off := e.alloc(External, nil, etIPv4)
	copy(o[off:], b)
	e.commit(External, off+len(b), etIPv4, off)
}

// echoReply4 answers a ping to our external address: addresses and MACs
// swapped, TTL 64.
func (e *Engine) echoReply4(p []byte, eth []byte) {
	if len(p) > e.cfg.External.MTU {
		// A reply bigger than our MTU would need fragmenting; pings that
		// large are not worth it.
		e.C.DropTooBig++
		return
	}
	b, off := e.alloc(External, eth[6:12], etIPv4)
	q := b[off : off+len(p)]
	copy(q, p)
	copy(q[12:16], p[16:20])
	copy(q[16:20], p[12:16])
	q[8] = 64
	netpkt.SetIPv4Checksum(q)
	ihl := int(q[0]&0xf) * 4
	m := q[ihl:]
	m[0] = 0
	m[2], m[3] = 0, 0
	be.PutUint16(m[2:], netpkt.Checksum(m))
	// The reply leaves with the request's MACs swapped.
	copy(b[6:12], eth[0:6])
	e.C.EchoReplies++
	e.commit(External, off+len(p), etIPv4, off)
}
