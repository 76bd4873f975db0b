package lwb4

// Internet checksum helpers. They duplicate the few lines of the lwAFTR's
// until the shared softwire/netpkt package (being extracted from lwaftr)
// is in main; then they go.

func sum16(acc uint32, b []byte) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		acc += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 != 0 {
		acc += uint32(b[len(b)-1]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}

func checksum(b []byte) uint16 { return fold(sum16(0, b)) }

func setIPv4Checksum(h []byte) {
	h[10], h[11] = 0, 0
	be.PutUint16(h[10:], checksum(h))
}

func icmpv6Checksum(src, dst, msg []byte) uint16 {
	acc := sum16(0, src[:16])
	acc = sum16(acc, dst[:16])
	acc += uint32(len(msg)) + 58
	return fold(sum16(acc, msg))
}

// csumAdjust16 updates checksum c for a 16-bit field changing from old to
// new (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
func csumAdjust16(c, old, new uint16) uint16 {
	acc := uint32(^c) + uint32(^old) + uint32(new)
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}

func csumAdjust32(c uint16, old, new uint32) uint16 {
	c = csumAdjust16(c, uint16(old>>16), uint16(new>>16))
	return csumAdjust16(c, uint16(old), uint16(new))
}
