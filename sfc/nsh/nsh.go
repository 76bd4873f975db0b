// Package nsh is the Network Service Header codec (RFC 8300): the base
// header, the service path header, MD type 1 (fixed 16-octet context) and
// MD type 2 (variable-length context headers as TLVs), and the next
// protocol. Decoding validates a header in place and keeps slices into the
// packet; encoding writes into a caller's buffer. Neither allocates.
package nsh

import (
	"encoding/binary"
)

// Next protocol values (RFC 8300 section 11.2.5).
const (
	ProtoIPv4     uint8 = 0x1
	ProtoIPv6     uint8 = 0x2
	ProtoEthernet uint8 = 0x3
	ProtoNSH      uint8 = 0x4
	ProtoMPLS     uint8 = 0x5
)

// MD types (RFC 8300 section 2.2).
const (
	MDType1 uint8 = 0x1
	MDType2 uint8 = 0x2
)

// Sizes in octets.
const (
	BaseLen = 4 // base header
	PathLen = 4 // service path header
	// MinLen is a header with no context: base and service path headers,
	// the smallest MD type 2 header (Length 0x2).
	MinLen = BaseLen + PathLen
	// MD1Len is an MD type 1 header: Length is always 0x6.
	MD1Len = MinLen + 16
	// MaxLen is the largest header the 6-bit Length (in 4-octet words) can
	// describe.
	MaxLen = 63 * 4
	// TLVHeaderLen is the Metadata Class, Type and Length of one MD type 2
	// context header.
	TLVHeaderLen = 4
	// MaxTLVValue is the largest value the 7-bit TLV Length allows.
	MaxTLVValue = 127
)

// DefaultTTL is the initial TTL when the control plane gives none (RFC
// 8300 section 2.2).
const DefaultTTL = 63

// Error is why a header was refused. The values are constants, so that a
// data plane can count drops by cause without allocating.
type Error uint8

// Decode errors.
const (
	// ErrTruncated: fewer octets than the base and service path headers.
	ErrTruncated Error = iota + 1
	// ErrVersion: a version other than 0 (RFC 8300 section 2.2: the packet
	// must be discarded).
	ErrVersion
	// ErrLength: the Length field points past the end of the packet.
	ErrLength
	// ErrMD1Length: MD type 1 with a Length other than 0x6.
	ErrMD1Length
	// ErrMD2Length: MD type 2 with a Length below 0x2.
	ErrMD2Length
	// ErrMDType: MD type 0x0 (reserved), 0xF (experimental) or unassigned.
	ErrMDType
	// ErrTLVOverflow: an MD type 2 context header runs past the header's
	// Length, or a partial TLV header is left at its end.
	ErrTLVOverflow
	// ErrTLVValue: a TLV value longer than 127 octets cannot be encoded.
	ErrTLVValue
	// ErrBuffer: the output buffer is too small for the header.
	ErrBuffer
	// ErrField: a field does not fit its width (SPI over 24 bits, TTL
	// over 6 bits, context too long).
	ErrField
)

// NumErrors bounds the Error values, for arrays of counters indexed by
// cause.
const NumErrors = int(ErrField) + 1

var errText = [...]string{
	ErrTruncated:   "nsh: truncated header",
	ErrVersion:     "nsh: unsupported version",
	ErrLength:      "nsh: length beyond packet",
	ErrMD1Length:   "nsh: MD type 1 with length other than 6",
	ErrMD2Length:   "nsh: MD type 2 with length below 2",
	ErrMDType:      "nsh: unsupported MD type",
	ErrTLVOverflow: "nsh: MD type 2 context header overflows the header",
	ErrTLVValue:    "nsh: TLV value longer than 127 octets",
	ErrBuffer:      "nsh: buffer too small",
	ErrField:       "nsh: field out of range",
}

func (e Error) Error() string {
	if int(e) < len(errText) && errText[e] != "" {
		return errText[e]
	}
	return "nsh: error"
}

// Header is one decoded NSH. Context aliases the packet it was decoded
// from (or is written by Encode): for MD type 1 the 16 octets of fixed
// context, for MD type 2 the context headers (TLVs, each padded to 4
// octets), possibly empty.
type Header struct {
	OAM          bool
	TTL          uint8 // 6 bits
	MDType       uint8
	NextProtocol uint8
	SPI          uint32 // 24 bits
	SI           uint8
	Context      []byte
}

// Len is the header's length in octets, from its MD type and context.
func (h *Header) Len() int {
	if h.MDType == MDType1 {
		return MD1Len
	}
	return MinLen + len(h.Context)
}

// Decode validates the NSH at the start of b and fills h; it returns the
// header length (where the inner packet starts). Unassigned bits are
// ignored on receipt, as RFC 8300 asks. Every TLV of MD type 2 is checked
// to fit in the header.
func (h *Header) Decode(b []byte) (int, error) {
	if len(b) < MinLen {
		return 0, ErrTruncated
	}
	if b[0]>>6 != 0 {
		return 0, ErrVersion
	}
	n := int(b[1]&0x3f) * 4
	md := b[2] & 0x0f
	switch md {
	case MDType1:
		if n != MD1Len {
			return 0, ErrMD1Length
		}
	case MDType2:
		if n < MinLen {
			return 0, ErrMD2Length
		}
	default:
		return 0, ErrMDType
	}
	if n > len(b) {
		return 0, ErrLength
	}
	if md == MDType2 {
		if err := checkTLVs(b[MinLen:n]); err != nil {
			return 0, err
		}
	}
	h.OAM = b[0]&0x20 != 0
	h.TTL = (b[0]&0x0f)<<2 | b[1]>>6
	h.MDType = md
	h.NextProtocol = b[3]
	sp := binary.BigEndian.Uint32(b[4:8])
	h.SPI = sp >> 8
	h.SI = uint8(sp)
	h.Context = b[MinLen:n:n]
	return n, nil
}

func checkTLVs(ctx []byte) error {
	for len(ctx) > 0 {
		if len(ctx) < TLVHeaderLen {
			return ErrTLVOverflow
		}
		l := pad4(int(ctx[3] & 0x7f))
		if TLVHeaderLen+l > len(ctx) {
			return ErrTLVOverflow
		}
		ctx = ctx[TLVHeaderLen+l:]
	}
	return nil
}

func pad4(n int) int { return (n + 3) &^ 3 }

// Encode writes h at the start of b and returns its length. For MD type 1
// Context must be empty (zero context) or exactly 16 octets; for MD type 2
// it must be whole TLVs (AppendTLV builds them). Context may alias b at
// the right offset (re-encoding in place).
func (h *Header) Encode(b []byte) (int, error) {
	if h.SPI > 0xffffff || h.TTL > 0x3f {
		return 0, ErrField
	}
	n := h.Len()
	switch h.MDType {
	case MDType1:
		if len(h.Context) != 0 && len(h.Context) != 16 {
			return 0, ErrField
		}
	case MDType2:
		if n > MaxLen || len(h.Context)%4 != 0 {
			return 0, ErrField
		}
		if err := checkTLVs(h.Context); err != nil {
			return 0, err
		}
	default:
		return 0, ErrMDType
	}
	if len(b) < n {
		return 0, ErrBuffer
	}
	ctx := b[MinLen:n]
	if len(h.Context) == 0 {
		clear(ctx)
	} else {
		copy(ctx, h.Context)
	}
	var o byte
	if h.OAM {
		o = 0x20
	}
	b[0] = o | h.TTL>>2
	b[1] = h.TTL<<6 | byte(n/4)
	b[2] = h.MDType
	b[3] = h.NextProtocol
	binary.BigEndian.PutUint32(b[4:8], h.SPI<<8|uint32(h.SI))
	return n, nil
}

// In-place accessors of an already validated header: what an SFF changes
// on every hop without decoding the whole header again.

// SI returns the Service Index of the header at the start of b.
func SI(b []byte) uint8 { return b[7] }

// SetSI writes the Service Index.
func SetSI(b []byte, si uint8) { b[7] = si }

// SPI returns the Service Path Identifier.
func SPI(b []byte) uint32 { return binary.BigEndian.Uint32(b[4:8]) >> 8 }

// TTL returns the 6-bit TTL.
func TTL(b []byte) uint8 { return (b[0]&0x0f)<<2 | b[1]>>6 }

// SetTTL writes the 6-bit TTL.
func SetTTL(b []byte, ttl uint8) {
	b[0] = b[0]&0xf0 | (ttl>>2)&0x0f
	b[1] = b[1]&0x3f | ttl<<6
}

// DecrementTTL lowers the TTL by one as an SFF must before its lookup (RFC
// 8300 section 2.2: from 0 it wraps to 63) and reports whether the packet
// may still be forwarded (false when the result is 0).
func DecrementTTL(b []byte) bool {
	t := (TTL(b) - 1) & 0x3f
	SetTTL(b, t)
	return t != 0
}

// TLV is one MD type 2 context header. Value aliases the packet when read
// by a TLVIter.
type TLV struct {
	Class uint16
	Type  uint8
	Value []byte
}

// AppendTLV appends t with its padding to dst.
func AppendTLV(dst []byte, t TLV) ([]byte, error) {
	if len(t.Value) > MaxTLVValue {
		return dst, ErrTLVValue
	}
	dst = binary.BigEndian.AppendUint16(dst, t.Class)
	dst = append(dst, t.Type, byte(len(t.Value)))
	dst = append(dst, t.Value...)
	for i := len(t.Value); i%4 != 0; i++ {
		dst = append(dst, 0)
	}
	return dst, nil
}

// TLVIter walks the context headers of a decoded MD type 2 header.
type TLVIter struct{ rest []byte }

// TLVs returns an iterator over the context of h (MD type 2; empty for
// MD type 1).
func (h *Header) TLVs() TLVIter {
	if h.MDType != MDType2 {
		return TLVIter{}
	}
	return TLVIter{rest: h.Context}
}

// Next returns the next TLV; false at the end or on a malformed rest
// (which Decode has already refused).
func (it *TLVIter) Next() (TLV, bool) {
	if len(it.rest) < TLVHeaderLen {
		return TLV{}, false
	}
	l := int(it.rest[3] & 0x7f)
	if TLVHeaderLen+pad4(l) > len(it.rest) {
		it.rest = nil
		return TLV{}, false
	}
	t := TLV{
		Class: binary.BigEndian.Uint16(it.rest[0:2]),
		Type:  it.rest[2],
		Value: it.rest[TLVHeaderLen : TLVHeaderLen+l : TLVHeaderLen+l],
	}
	it.rest = it.rest[TLVHeaderLen+pad4(l):]
	return t, true
}
