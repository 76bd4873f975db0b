package dslite

import (
	"net/netip"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// Header rewriting. Checksums are updated incrementally (RFC 1624) so a
// translated packet costs a few additions whatever its length; only
// ICMP errors, whose quoted packet changes, get their ICMP checksum
// computed afresh.

// rewriteAddr sets the IPv4 address at p[off:] (12 source, 16
// destination) to v, fixing the header checksum and the checksum of the
// TCP or UDP segment l4 when it is long enough to hold one.
func rewriteAddr(p, l4 []byte, off int, proto uint8, v uint32) {
	old := be.Uint32(p[off:])
	if old == v {
		return
	}
	be.PutUint32(p[off:], v)
	be.PutUint16(p[10:], netpkt.Adjust32(be.Uint16(p[10:]), old, v))
	switch proto {
	case 6:
		if len(l4) >= 18 {
			be.PutUint16(l4[16:], netpkt.Adjust32(be.Uint16(l4[16:]), old, v))
		}
	case 17:
		if len(l4) >= 8 {
			adjustUDP(l4, func(c uint16) uint16 { return netpkt.Adjust32(c, old, v) })
		}
	}
}

// adjustUDP updates a UDP checksum unless it is zero (none, RFC 768);
// a result of zero is sent as all ones.
func adjustUDP(l4 []byte, f func(uint16) uint16) {
	c := be.Uint16(l4[6:])
	if c == 0 {
		return
	}
	c = f(c)
	if c == 0 {
		c = 0xffff
	}
	be.PutUint16(l4[6:], c)
}

// rewritePort sets the source (src) or destination port of a TCP or UDP
// segment, or the identifier of an ICMP query, to v.
func rewritePort(l4 []byte, proto uint8, src bool, v uint16) {
	switch proto {
	case 6, 17:
		off := 2
		if src {
			off = 0
		}
		if len(l4) < off+2 {
			return
		}
		old := be.Uint16(l4[off:])
		if old == v {
			return
		}
		be.PutUint16(l4[off:], v)
		if proto == 6 {
			if len(l4) >= 18 {
				be.PutUint16(l4[16:], netpkt.Adjust16(be.Uint16(l4[16:]), old, v))
			}
		} else if len(l4) >= 8 {
			adjustUDP(l4, func(c uint16) uint16 { return netpkt.Adjust16(c, old, v) })
		}
	case 1:
		if len(l4) < 8 {
			return
		}
		old := be.Uint16(l4[4:])
		be.PutUint16(l4[4:], v)
		be.PutUint16(l4[2:], netpkt.Adjust16(be.Uint16(l4[2:]), old, v))
	}
}

// decTTL decrements the TTL of a forwarded packet.
func decTTL(p []byte) {
	old := be.Uint16(p[8:])
	p[8]--
	be.PutUint16(p[10:], netpkt.Adjust16(be.Uint16(p[10:]), old, be.Uint16(p[8:])))
}

// tcpTrack follows a mapping's TCP handshake and teardown, and clamps the
// MSS of SYNs so that full segments fit the tunnel unfragmented.
func (a *AFTR) tcpTrack(s *session, l4 []byte, fromB4 bool) {
	flags := l4[13]
	if flags&0x02 != 0 {
		if fromB4 {
			if s.tcp&(tcpFIN|tcpRST) != 0 {
				s.tcp = 0 // a new connection on the same mapping
			}
			s.tcp |= tcpOutSYN
		} else {
			s.tcp |= tcpInSYN
		}
		a.clampMSS(l4)
	}
	if flags&0x01 != 0 {
		s.tcp |= tcpFIN
	}
	if flags&0x04 != 0 {
		s.tcp |= tcpRST
	}
}

func (a *AFTR) clampMSS(l4 []byte) {
	if clampMSS(l4, a.mssClamp) {
		a.C.MSSClamped++
	}
}

// clampMSS lowers the MSS option of a TCP SYN to at most clamp and
// reports whether it did.
func clampMSS(l4 []byte, clamp uint16) bool {
	doff := int(l4[12]>>4) * 4
	if doff < 20 || doff > len(l4) {
		return false
	}
	opts := l4[20:doff]
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			return false
		case 1:
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			return false
		}
		if opts[i] == 2 && opts[i+1] == 4 {
			mss := be.Uint16(opts[i+2:])
			if mss <= clamp {
				return false
			}
			be.PutUint16(opts[i+2:], clamp)
			be.PutUint16(l4[16:], netpkt.Adjust16(be.Uint16(l4[16:]), mss, clamp))
			return true
		}
		i += int(opts[i+1])
	}
	return false
}

// quoted returns the packet an ICMP error quotes and its L4 part, when
// the quote holds the IP header and the 8 bytes RFC 792 requires.
func quoted(icmp []byte) (q, ql4 []byte, ok bool) {
	q = icmp[8:]
	if len(q) < 20 || q[0]>>4 != 4 {
		return nil, nil, false
	}
	ihl := int(q[0]&0xf) * 4
	if ihl < 20 || len(q) < ihl+8 {
		return nil, nil, false
	}
	return q, q[ihl:], true
}

// quotedPort is the port (or query identifier) of the quoted packet that
// names its mapping: src picks the source port.
func quotedPort(q, ql4 []byte, src bool) (uint16, bool) {
	switch q[9] {
	case 6, 17:
		if src {
			return be.Uint16(ql4), true
		}
		return be.Uint16(ql4[2:]), true
	case 1:
		switch ql4[0] {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			return be.Uint16(ql4[4:]), true
		}
	}
	return 0, false
}

// icmpErrorFromInternet translates an ICMP error about a packet one of
// our mappings sent (RFC 5508 REQ-4, RFC 5382 REQ-9): the quoted packet
// gets its internal source back, the error goes to the internal host.
func (a *AFTR) icmpErrorFromInternet(p, l4 []byte) {
	q, ql4, ok := quoted(l4)
	if !ok {
		a.C.DropMalformed4++
		return
	}
	port, ok := quotedPort(q, ql4, true)
	if !ok || be.Uint32(q[12:]) != be.Uint32(p[16:]) {
		a.C.DropNoSession4++
		return
	}
	si, ok := a.in[inKey{addr: be.Uint32(q[12:]), port: port, proto: q[9]}]
	if !ok {
		a.C.DropNoSession4++
		return
	}
	if p[8] <= 1 {
		a.C.DropTTLZero++
		return
	}
	s := &a.sess[si]
	rewriteAddr(q, ql4, 12, q[9], s.inAddr)
	rewritePort(ql4, q[9], true, s.inPort)
	a.finishICMPError(p, l4, 16, s.inAddr)
	a.encap(&a.b4s[s.b4].addr, p)
}

// icmpErrorFromB4 translates an ICMP error a host behind B4 bi sends
// about a packet it received through one of its mappings (RFC 5508
// REQ-3): the quoted packet's destination and the error's source become
// the mapping's external ones.
func (a *AFTR) icmpErrorFromB4(bi int32, p, l4 []byte) {
	q, ql4, ok := quoted(l4)
	if !ok {
		a.C.DropMalformed6++
		a.gcB4(bi)
		return
	}
	port, ok := quotedPort(q, ql4, false)
	k := outKey{b4: bi, addr: be.Uint32(q[16:]), port: port, proto: q[9]}
	si, found := a.out[k]
	if !ok || !found || k.addr != be.Uint32(p[12:]) {
		a.C.DropNoSession4++
		a.gcB4(bi)
		return
	}
	s := &a.sess[si]
	rewriteAddr(q, ql4, 16, q[9], s.extAddr)
	rewritePort(ql4, q[9], false, s.extPort)
	a.finishICMPError(p, l4, 12, s.extAddr)
	a.toInternet(p, &a.b4s[bi].addr)
}

// finishICMPError sets the error's own address at off, decrements its
// TTL and recomputes its ICMP checksum over the changed quote.
func (a *AFTR) finishICMPError(p, l4 []byte, off int, v uint32) {
	rewriteAddr(p, l4, off, 1, v)
	decTTL(p)
	l4[2], l4[3] = 0, 0
	be.PutUint16(l4[2:], netpkt.Checksum(l4))
}

// toInner handles a packet from a B4 to the AFTR's inner address: BFD
// inside the softwire, or a ping.
func (a *AFTR) toInner(b4 *[16]byte, p, l4 []byte) {
	switch p[9] {
	case 17:
		if len(l4) < 8 || be.Uint16(l4[2:]) != BFDPort {
			break
		}
		ul := int(be.Uint16(l4[4:]))
		if ul < 8 || ul > len(l4) {
			a.C.DropMalformed6++
			return
		}
		if be.Uint16(l4[6:]) != 0 && netpkt.L4Checksum4(p[12:16], p[16:20], 17, l4[:ul]) != 0 {
			a.C.DropBadChecksum++
			return
		}
		a.C.BFDIn++
		if a.cfg.OnBFD != nil {
			a.cfg.OnBFD(netip.AddrFrom16(*b4), p[8], l4[8:ul])
		}
		return
	case 1:
		if len(l4) >= 8 && l4[0] == 8 && netpkt.Checksum(l4) == 0 {
			a.echoReplyInner(b4, p, l4)
			return
		}
	}
	a.C.DropUnknownProto4++
}

// echoReplyInner answers a ping to 192.0.0.1 through the tunnel.
func (a *AFTR) echoReplyInner(b4 *[16]byte, p, l4 []byte) {
	src, dst := be.Uint32(p[12:]), be.Uint32(p[16:])
	be.PutUint32(p[12:], dst)
	be.PutUint32(p[16:], src)
	p[8] = 64
	netpkt.SetIPv4Checksum(p)
	old := be.Uint16(l4)
	l4[0] = 0
	be.PutUint16(l4[2:], netpkt.Adjust16(be.Uint16(l4[2:]), old, be.Uint16(l4)))
	a.C.EchoReplies++
	a.encapFrom(a.unicast[:], b4, p)
}

// SendBFD sends a BFD control packet to B4 b4 inside its softwire: from
// the inner address to 192.0.0.2, UDP to port 3784, TTL 255 (RFC 5881
// §5), in IPv6 from the AFTR's unicast address.
func (a *AFTR) SendBFD(b4 netip.Addr, payload []byte) {
	if !b4.Is6() || len(payload) > 512 {
		return
	}
	dst := b4.As16()
	var src [4]byte
	be.PutUint32(src[:], a.inner)
	n := writeBFD(a.obuf[40:], src[:], B4InnerAddress.AsSlice(), payload)
	h := a.obuf[:40+n]
	netpkt.WriteIPv6Header(h, 0xc0, n, netpkt.ProtoIPIP, a.unicast[:], dst[:])
	a.C.BFDOut++
	a.sendIPv6(h)
}

// writeBFD writes an IPv4/UDP BFD packet into b and returns its length.
func writeBFD(b []byte, src, dst []byte, payload []byte) int {
	n := 28 + len(payload)
	h := b[:n]
	h[0], h[1] = 0x45, 0xc0 // network control precedence (RFC 5881 §4)
	be.PutUint16(h[2:], uint16(n))
	be.PutUint32(h[4:], 0x4000) // DF
	h[8], h[9] = 255, 17
	copy(h[12:16], src)
	copy(h[16:20], dst)
	netpkt.SetIPv4Checksum(h)
	u := h[20:]
	be.PutUint16(u[0:], bfdSourcePort)
	be.PutUint16(u[2:], BFDPort)
	be.PutUint16(u[4:], uint16(8+len(payload)))
	u[6], u[7] = 0, 0
	copy(u[8:], payload)
	c := netpkt.L4Checksum4(src, dst, 17, u)
	if c == 0 {
		c = 0xffff
	}
	be.PutUint16(u[6:], c)
	return n
}

// icmpv6 handles ICMPv6 to a tunnel endpoint: echo requests are
// answered; the link layer handles neighbour discovery before the engine.
func (a *AFTR) icmpv6(p []byte) {
	m := p[40:]
	if len(m) < 8 || netpkt.ICMPv6Checksum(p[8:24], p[24:40], m) != 0 {
		a.C.DropBadChecksum++
		return
	}
	if m[0] != 128 {
		a.C.DropUnknownProto6++
		return
	}
	// The reply comes from the address that was pinged, so ping matches it.
	var src, dst [16]byte
	copy(src[:], p[24:40])
	copy(dst[:], p[8:24])
	copy(p[8:24], src[:])
	copy(p[24:40], dst[:])
	p[7] = 64
	m[0] = 129
	m[2], m[3] = 0, 0
	be.PutUint16(m[2:], netpkt.ICMPv6Checksum(p[8:24], p[24:40], m))
	a.C.EchoReplies++
	a.sendIPv6(p)
}

// refuseSource answers a tunnel packet from outside the B4 prefixes with
// ICMPv6 destination unreachable, code 5 "source address failed
// ingress/egress policy" (RFC 4443 §3.1), from the unicast address,
// rate limited.
func (a *AFTR) refuseSource(p []byte) {
	if p[6] == netpkt.ProtoICMPv6 || !a.allowError() {
		return
	}
	n := netpkt.BuildICMPv6Error(a.obuf, 1, 5, a.unicast[:], p, 0)
	a.C.ICMPErrorsSent++
	a.sendIPv6(a.obuf[:n])
}
