package lwaftr

// fragment6 encapsulates an IPv4 packet too big for the internal MTU in
// IPv6 fragments (RFC 8200 §4.5). Every fragment but the last carries a
// multiple of 8 bytes.
func (e *Engine) fragment6(p []byte, b4, br *[16]byte) {
	q := e.decTTLCopy(p)
	e.fragID6++
	chunk := (e.cfg.Internal.MTU - 48) &^ 7
	e.C.FragmentedPackets[Internal]++
	for off := 0; off < len(q); off += chunk {
		n := min(chunk, len(q)-off)
		more := off+n < len(q)
		b, l3 := e.alloc(Internal, nil, etIPv6)
		h := b[l3:]
		writeIPv6Header(h, q[1], 8+n, 44, br[:], b4[:])
		f := h[40:48]
		f[0], f[1] = 4, 0
		fo := uint16(off)
		if more {
			fo |= 1
		}
		be.PutUint16(f[2:], fo)
		be.PutUint32(f[4:], e.fragID6)
		copy(h[48:], q[off:off+n])
		e.commit(Internal, l3+48+n, etIPv6, l3)
	}
}

// fragment4 sends an IPv4 packet bigger than the external MTU as
// fragments (RFC 791), each with a copy of the header and a fresh
// identification.
func (e *Engine) fragment4(p []byte) {
	ihl := int(p[0]&0xf) * 4
	data := p[ihl:]
	chunk := (e.cfg.External.MTU - ihl) &^ 7
	e.fragID4++
	e.C.FragmentedPackets[External]++
	for off := 0; off < len(data); off += chunk {
		n := min(chunk, len(data)-off)
		b, l3 := e.alloc(External, nil, etIPv4)
		h := b[l3:]
		copy(h, p[:ihl])
		be.PutUint16(h[2:], uint16(ihl+n))
		be.PutUint16(h[4:], e.fragID4)
		fo := uint16(off / 8)
		if off+n < len(data) {
			fo |= 0x2000
		}
		be.PutUint16(h[6:], fo)
		setIPv4Checksum(h)
		copy(h[ihl:], data[off:off+n])
		e.commit(External, l3+ihl+n, etIPv4, l3)
	}
}
