package netpkt

import "encoding/binary"

// Sum16 adds b as big-endian 16-bit words to acc (RFC 1071), without
// folding.
func Sum16(acc uint32, b []byte) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		acc += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 != 0 {
		acc += uint32(b[len(b)-1]) << 8
	}
	return acc
}

// Fold finishes an Internet checksum.
func Fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}

// Checksum is the Internet checksum of b.
func Checksum(b []byte) uint16 { return Fold(Sum16(0, b)) }

// SetIPv4Checksum recomputes the header checksum of the IPv4 header at h.
func SetIPv4Checksum(h []byte) {
	ihl := int(h[0]&0xf) * 4
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], Checksum(h[:ihl]))
}

// ICMPv6Checksum computes the ICMPv6 checksum of msg between src and dst
// (RFC 4443 §2.3, pseudo-header of RFC 8200 §8.1).
func ICMPv6Checksum(src, dst []byte, msg []byte) uint16 {
	return L4Checksum6(src, dst, 58, msg)
}

// L4Checksum6 is the checksum of an upper-layer message over IPv6 with
// the pseudo-header of RFC 8200 §8.1.
func L4Checksum6(src, dst []byte, proto byte, msg []byte) uint16 {
	acc := Sum16(0, src[:16])
	acc = Sum16(acc, dst[:16])
	acc += uint32(len(msg))
	acc += uint32(proto)
	return Fold(Sum16(acc, msg))
}

// L4Checksum4 is the checksum of a TCP or UDP segment over IPv4 with the
// pseudo-header of RFC 793 §3.1 / RFC 768.
func L4Checksum4(src, dst []byte, proto byte, msg []byte) uint16 {
	acc := Sum16(0, src[:4])
	acc = Sum16(acc, dst[:4])
	acc += uint32(len(msg))
	acc += uint32(proto)
	return Fold(Sum16(acc, msg))
}

// Adjust16 updates checksum sum for a 16-bit field of the covered data
// changing from old to new (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
func Adjust16(sum, old, new uint16) uint16 {
	acc := uint32(^sum) + uint32(^old) + uint32(new)
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}

// Adjust32 is Adjust16 for a 32-bit field (an IPv4 address).
func Adjust32(sum uint16, old, new uint32) uint16 {
	acc := uint32(^sum) + uint32(^uint16(old>>16)) + uint32(^uint16(old)) + new>>16 + new&0xffff
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}
