package lwaftr

import "github.com/wirebeat/wirebeat/softwire/netpkt"

// fragment6 encapsulates an IPv4 packet too big for the internal MTU in
// IPv6 fragments (RFC 8200 §4.5), built by the shared fragmenter.
func (e *Engine) fragment6(p []byte, b4, br *[16]byte) {
	q := e.decTTLCopy(p)
	e.fragID6++
	mtu := e.cfg.Internal.MTU
	e.C.FragmentedPackets[Internal]++
	for off := 0; off < len(q); {
		b, l3 := e.alloc(Internal, nil, etIPv6)
		var n int
		n, off = netpkt.Fragment6(b[l3:], q, off, mtu, netpkt.ProtoIPIP, q[1], br[:], b4[:], e.fragID6)
		e.commit(Internal, l3+n, etIPv6, l3)
	}
}

// fragment4 sends an IPv4 packet bigger than the external MTU as
// fragments (RFC 791), each with a copy of the header and a fresh
// identification.
func (e *Engine) fragment4(p []byte) {
	ihl := int(p[0]&0xf) * 4
	mtu := e.cfg.External.MTU
	e.fragID4++
	e.C.FragmentedPackets[External]++
	for off := 0; off < len(p)-ihl; {
		b, l3 := e.alloc(External, nil, etIPv4)
		var n int
		n, off = netpkt.Fragment4(b[l3:], p, off, mtu, e.fragID4)
		e.commit(External, l3+n, etIPv4, l3)
	}
}
