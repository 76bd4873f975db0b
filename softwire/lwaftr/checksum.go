package lwaftr

import "encoding/binary"

// sum16 adds b as big-endian 16-bit words to acc (RFC 1071), without
// folding.
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

// fold finishes an Internet checksum.
func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}

// checksum is the Internet checksum of b.
func checksum(b []byte) uint16 { return fold(sum16(0, b)) }

// setIPv4Checksum recomputes the header checksum of the IPv4 header at h.
func setIPv4Checksum(h []byte) {
	ihl := int(h[0]&0xf) * 4
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], checksum(h[:ihl]))
}

// icmpv6Checksum computes the ICMPv6 checksum of msg between src and dst
// (RFC 4443 §2.3, pseudo-header of RFC 8200 §8.1).
func icmpv6Checksum(src, dst []byte, msg []byte) uint16 {
	acc := sum16(0, src[:16])
	acc = sum16(acc, dst[:16])
	acc += uint32(len(msg))
	acc += 58
	return fold(sum16(acc, msg))
}
