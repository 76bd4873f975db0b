package netpkt

// Fragmentation writes one fragment per call into a buffer the caller
// owns (its output queue), so a fragmented packet costs no allocation:
//
//	for off := 0; off < len(payload); {
//		n, off = Fragment6(buf, payload, off, mtu, ...)
//		queue(buf[:n])
//	}

// Fragment6 writes into h the IPv6 fragment (RFC 8200 §4.5) of payload
// (the fragmentable part, of protocol next) that starts at offset off,
// sized for a link MTU of mtu, from src to dst with traffic class tc and
// identification id. Every fragment but the last carries a multiple of 8
// bytes. It returns the fragment's length and the next offset (len(payload)
// after the last).
func Fragment6(h, payload []byte, off, mtu int, next, tc byte, src, dst []byte, id uint32) (int, int) {
	chunk := (mtu - 48) &^ 7
	n := min(chunk, len(payload)-off)
	more := off+n < len(payload)
	WriteIPv6Header(h, tc, 8+n, ProtoFragment, src, dst)
	f := h[40:48]
	f[0], f[1] = next, 0
	fo := uint16(off)
	if more {
		fo |= 1
	}
	be.PutUint16(f[2:], fo)
	be.PutUint32(f[4:], id)
	copy(h[48:], payload[off:off+n])
	return 48 + n, off + n
}

// Fragment4 writes into h the IPv4 fragment (RFC 791) of packet p whose
// payload starts at offset off, sized for a link MTU of mtu: a copy of
// p's header with identification id. It returns the fragment's length and
// the next payload offset (len(p)-IHL after the last).
func Fragment4(h, p []byte, off, mtu int, id uint16) (int, int) {
	ihl := int(p[0]&0xf) * 4
	data := p[ihl:]
	chunk := (mtu - ihl) &^ 7
	n := min(chunk, len(data)-off)
	copy(h, p[:ihl])
	be.PutUint16(h[2:], uint16(ihl+n))
	be.PutUint16(h[4:], id)
	fo := uint16(off / 8)
	if off+n < len(data) {
		fo |= 0x2000
	}
	be.PutUint16(h[6:], fo)
	SetIPv4Checksum(h)
	copy(h[ihl:], data[off:off+n])
	return ihl + n, off + n
}
