package netpkt

import "encoding/binary"

var be = binary.BigEndian

// Ethernet types the softwire data planes handle.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100
	EtherTypeIPv6 = 0x86dd
)

// IP protocol numbers the softwire data planes handle.
const (
	ProtoICMP     = 1
	ProtoIPIP     = 4 // IPv4 in IPv6 (RFC 2473)
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoFragment = 44 // the IPv6 fragment header
	ProtoICMPv6   = 58
)

// CheckIPv4 validates an IPv4 header and returns the packet trimmed to its
// total length, or ok=false.
func CheckIPv4(p []byte) ([]byte, bool) {
	if len(p) < 20 || p[0]>>4 != 4 {
		return nil, false
	}
	ihl := int(p[0]&0xf) * 4
	tl := int(be.Uint16(p[2:]))
	if ihl < 20 || tl < ihl || tl > len(p) {
		return nil, false
	}
	return p[:tl], true
}

// CheckIPv6 validates a fixed IPv6 header and returns the packet trimmed
// to its payload length, or ok=false.
func CheckIPv6(p []byte) ([]byte, bool) {
	if len(p) < 40 || p[0]>>4 != 6 {
		return nil, false
	}
	pl := int(be.Uint16(p[4:]))
	if 40+pl > len(p) {
		return nil, false
	}
	return p[:40+pl], true
}

// IsFragment4 tells whether an IPv4 packet is a fragment (offset or MF set).
func IsFragment4(p []byte) bool { return be.Uint16(p[6:])&0x3fff != 0 }

// DontFragment4 tells whether an IPv4 packet has DF set.
func DontFragment4(p []byte) bool { return be.Uint16(p[6:])&0x4000 != 0 }

// WriteIPv6Header writes a header with the IPv4 TOS as traffic class, no
// flow label and hop limit 255.
func WriteIPv6Header(h []byte, tos byte, payload int, next byte, src, dst []byte) {
	h[0] = 0x60 | tos>>4
	h[1] = tos << 4
	h[2], h[3] = 0, 0
	be.PutUint16(h[4:], uint16(payload))
	h[6] = next
	h[7] = 255
	copy(h[8:24], src)
	copy(h[24:40], dst)
}

// TrafficClass is the traffic class of an IPv6 header, which an
// encapsulated IPv4 packet's TOS maps to (RFC 2983 uniform model).
func TrafficClass(h []byte) byte { return h[0]<<4 | h[1]>>4 }

// DecTTLCopy copies p into q with the TTL decremented and the header
// checksum recomputed, as the quoted packet of time-exceeded and too-big
// errors. q must be at least len(p) long.
func DecTTLCopy(q, p []byte) []byte {
	q = q[:len(p)]
	copy(q, p)
	q[8]--
	SetIPv4Checksum(q)
	return q
}

// ICMPv4ErrorMax is the largest ICMPv4 error BuildICMPv4Error writes
// (RFC 1812 §4.3.2.3: at most 576 bytes).
const ICMPv4ErrorMax = 576

// BuildICMPv4Error writes into b (at least ICMPv4ErrorMax bytes) an
// ICMPv4 error (RFC 792) of type typ and code about packet p, from src
// to p's source, TTL 255, quoting as much of p as fits in 576 bytes; mtu
// is the next-hop MTU of a fragmentation-needed error (RFC 1191). It
// returns the packet.
func BuildICMPv4Error(b []byte, typ, code byte, src []byte, p []byte, mtu uint16) []byte {
	quote := min(len(p), ICMPv4ErrorMax-28)
	b = b[:28+quote]
	b[0] = 0x45
	b[1] = 0
	be.PutUint16(b[2:], uint16(len(b)))
	be.PutUint32(b[4:], 0)
	b[8] = 255
	b[9] = ProtoICMP
	copy(b[12:16], src)
	copy(b[16:20], p[12:16])
	SetIPv4Checksum(b)
	m := b[20:]
	m[0], m[1] = typ, code
	m[2], m[3] = 0, 0
	be.PutUint32(m[4:], uint32(mtu))
	copy(m[8:], p[:quote])
	be.PutUint16(m[2:], Checksum(m))
	return b
}

// ICMPv6ErrorMax is the largest ICMPv6 error BuildICMPv6Error writes
// (RFC 4443 §2.4 (c): no more than the minimum IPv6 MTU).
const ICMPv6ErrorMax = 1280

// BuildICMPv6Error writes into h (at least ICMPv6ErrorMax bytes) an
// ICMPv6 error (RFC 4443) of type typ and code about packet p, from src
// to p's source, quoting as much of p as fits in 1280 bytes; param is
// the MTU or pointer field. It returns the packet's length.
func BuildICMPv6Error(h []byte, typ, code byte, src []byte, p []byte, param uint32) int {
	quote := min(len(p), ICMPv6ErrorMax-48)
	WriteIPv6Header(h, 0, 8+quote, ProtoICMPv6, src, p[8:24])
	m := h[40 : 48+quote]
	m[0], m[1] = typ, code
	m[2], m[3] = 0, 0
	be.PutUint32(m[4:], param)
	copy(m[8:], p[:quote])
	be.PutUint16(m[2:], ICMPv6Checksum(h[8:24], h[24:40], m))
	return 48 + quote
}
