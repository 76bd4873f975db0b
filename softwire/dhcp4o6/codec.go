// Package dhcp4o6 provisions a lwB4: the codecs of DHCPv6 (RFC 8415),
// DHCPv4-over-DHCPv6 (RFC 7341), the softwire options of RFC 7598 (S46
// container, BR, V4V6 binding, port parameters), the DHCPv4 port
// parameters option of RFC 7618 and DHCPv4 (RFC 2131/2132) messages,
// and the client exchange that turns them into an lwb4.Binding.
//
// Every decoder bounds-checks each length against what is left of its
// buffer and returns a precise error; none allocates more than its input.
package dhcp4o6

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

var be = binary.BigEndian

// DHCPv6 message types used here.
const (
	MsgSolicit      = 1
	MsgAdvertise    = 2
	MsgRequest      = 3
	MsgReply        = 7
	MsgInfoRequest  = 11
	MsgRelayForw    = 12
	MsgRelayRepl    = 13
	MsgDHCPv4Query  = 20 // RFC 7341
	MsgDHCPv4Answer = 21 // DHCPV4-RESPONSE, RFC 7341
)

// DHCPv6 option codes used here.
const (
	OptClientID      = 1
	OptServerID      = 2
	OptORO           = 6
	OptElapsedTime   = 8
	OptRelayMsg      = 9
	OptStatusCode    = 13
	OptInterfaceID   = 18
	OptDHCPv4Msg     = 87  // RFC 7341
	OptDHCP4o6Server = 88  // RFC 7341
	OptS46BR         = 90  // RFC 7598
	OptS46V4V6Bind   = 92  // RFC 7598
	OptS46PortParams = 93  // RFC 7598
	OptS46ContLW     = 96  // RFC 7598
	OptS46BindPrefix = 137 // RFC 8539: the lwB4's softwire IPv6 address
)

// ErrShort is wrapped by every error about a truncated buffer.
var ErrShort = errors.New("truncated")

// Option is one DHCPv6 option; Data aliases the decoded buffer.
type Option struct {
	Code uint16
	Data []byte
}

// ParseOptions splits a DHCPv6 option area (RFC 8415 §21.1).
func ParseOptions(b []byte, dst []Option) ([]Option, error) {
	for len(b) > 0 {
		if len(b) < 4 {
			return dst, fmt.Errorf("option header: %w (%d bytes left)", ErrShort, len(b))
		}
		code, n := be.Uint16(b), int(be.Uint16(b[2:]))
		if 4+n > len(b) {
			return dst, fmt.Errorf("option %d: length %d, %d bytes left: %w", code, n, len(b)-4, ErrShort)
		}
		dst = append(dst, Option{Code: code, Data: b[4 : 4+n]})
		b = b[4+n:]
	}
	return dst, nil
}

// AppendOption appends one DHCPv6 option.
func AppendOption(b []byte, code uint16, data []byte) []byte {
	b = be.AppendUint16(b, code)
	b = be.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// Message is a client/server DHCPv6 message (RFC 8415 §8), or a
// DHCPv4-query/response (RFC 7341 §6, whose 3 bytes after the type are
// flags instead of a transaction id).
type Message struct {
	Type    uint8
	XID     uint32 // 24 bits: transaction id, or the RFC 7341 flags
	Options []Option
}

// ParseMessage decodes a client/server message.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	if len(b) < 4 {
		return m, fmt.Errorf("dhcpv6 header: %w", ErrShort)
	}
	m.Type = b[0]
	if m.Type == MsgRelayForw || m.Type == MsgRelayRepl {
		return m, fmt.Errorf("dhcpv6: message type %d is a relay message", m.Type)
	}
	m.XID = uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	var err error
	m.Options, err = ParseOptions(b[4:], nil)
	return m, err
}

// Append encodes m.
func (m Message) Append(b []byte) []byte {
	b = append(b, m.Type, byte(m.XID>>16), byte(m.XID>>8), byte(m.XID))
	for _, o := range m.Options {
		b = AppendOption(b, o.Code, o.Data)
	}
	return b
}

// Get returns the first option of code.
func Get(opts []Option, code uint16) ([]byte, bool) {
	for _, o := range opts {
		if o.Code == code {
			return o.Data, true
		}
	}
	return nil, false
}

// RelayMessage is a Relay-forward or Relay-reply (RFC 8415 §9).
type RelayMessage struct {
	Type      uint8
	HopCount  uint8
	LinkAddr  [16]byte
	PeerAddr  [16]byte
	Options   []Option
	Contained []byte // OPTION_RELAY_MSG
}

// ParseRelay decodes a relay message.
func ParseRelay(b []byte) (RelayMessage, error) {
	var r RelayMessage
	if len(b) < 34 {
		return r, fmt.Errorf("relay header: %w", ErrShort)
	}
	if b[0] != MsgRelayForw && b[0] != MsgRelayRepl {
		return r, fmt.Errorf("dhcpv6: message type %d is not a relay message", b[0])
	}
	r.Type, r.HopCount = b[0], b[1]
	copy(r.LinkAddr[:], b[2:18])
	copy(r.PeerAddr[:], b[18:34])
	var err error
	if r.Options, err = ParseOptions(b[34:], nil); err != nil {
		return r, err
	}
	msg, ok := Get(r.Options, OptRelayMsg)
	if !ok {
		return r, errors.New("relay message without OPTION_RELAY_MSG")
	}
	r.Contained = msg
	return r, nil
}

// Append encodes r (Contained becomes OPTION_RELAY_MSG, first).
func (r RelayMessage) Append(b []byte) []byte {
	b = append(b, r.Type, r.HopCount)
	b = append(b, r.LinkAddr[:]...)
	b = append(b, r.PeerAddr[:]...)
	b = AppendOption(b, OptRelayMsg, r.Contained)
	for _, o := range r.Options {
		if o.Code != OptRelayMsg {
			b = AppendOption(b, o.Code, o.Data)
		}
	}
	return b
}

// PortParams is OPTION_S46_PORTPARAMS (RFC 7598 §4.5) and, in DHCPv4,
// OPTION_V4_PORTPARAMS (RFC 7618 §4): offset, PSID length, PSID (its
// PSID-length high bits significant).
type PortParams struct {
	Offset  uint8
	PSIDLen uint8
	PSID    uint16 // right-aligned: the value, not the left-aligned field
}

// ParsePortParams decodes the 4 bytes of either option.
func ParsePortParams(b []byte) (PortParams, error) {
	var p PortParams
	if len(b) != 4 {
		return p, fmt.Errorf("port parameters: length %d, want 4", len(b))
	}
	p.Offset, p.PSIDLen = b[0], b[1]
	if p.Offset > 15 {
		return p, fmt.Errorf("port parameters: offset %d above 15", p.Offset)
	}
	if p.PSIDLen > 16 || int(p.Offset)+int(p.PSIDLen) > 16 {
		return p, fmt.Errorf("port parameters: offset %d plus psid-len %d exceed 16", p.Offset, p.PSIDLen)
	}
	raw := be.Uint16(b[2:])
	if p.PSIDLen == 0 {
		if raw != 0 {
			return p, fmt.Errorf("port parameters: psid %#04x with psid-len 0", raw)
		}
		return p, nil
	}
	// The PSID is left-aligned in its 16 bits (RFC 7598 §4.5); the bits
	// after PSID-len must be zero.
	if raw<<p.PSIDLen != 0 {
		return p, fmt.Errorf("port parameters: psid %#04x has bits beyond psid-len %d", raw, p.PSIDLen)
	}
	p.PSID = raw >> (16 - p.PSIDLen)
	return p, nil
}

// Append encodes p.
func (p PortParams) Append(b []byte) []byte {
	var raw uint16
	if p.PSIDLen > 0 {
		raw = p.PSID << (16 - p.PSIDLen)
	}
	return be.AppendUint16(append(b, p.Offset, p.PSIDLen), raw)
}

// V4V6Bind is OPTION_S46_V4V6BIND (RFC 7598 §4.4).
type V4V6Bind struct {
	IPv4       [4]byte
	Prefix     netip.Prefix // bind-ipv6-prefix
	PortParams *PortParams
}

// ParseV4V6Bind decodes the option body.
func ParseV4V6Bind(b []byte) (V4V6Bind, error) {
	var v V4V6Bind
	if len(b) < 5 {
		return v, fmt.Errorf("s46-v4v6bind: %w", ErrShort)
	}
	copy(v.IPv4[:], b[:4])
	plen := int(b[4])
	if plen > 128 {
		return v, fmt.Errorf("s46-v4v6bind: bindprefix6-len %d above 128", plen)
	}
	nb := (plen + 7) / 8
	if len(b) < 5+nb {
		return v, fmt.Errorf("s46-v4v6bind: prefix of %d bits: %w", plen, ErrShort)
	}
	var a [16]byte
	copy(a[:], b[5:5+nb])
	pf, err := netip.AddrFrom16(a).Prefix(plen)
	if err != nil {
		return v, fmt.Errorf("s46-v4v6bind: %w", err)
	}
	v.Prefix = pf
	opts, err := ParseOptions(b[5+nb:], nil)
	if err != nil {
		return v, fmt.Errorf("s46-v4v6bind: %w", err)
	}
	if pp, ok := Get(opts, OptS46PortParams); ok {
		p, err := ParsePortParams(pp)
		if err != nil {
			return v, fmt.Errorf("s46-v4v6bind: %w", err)
		}
		v.PortParams = &p
	}
	return v, nil
}

// Append encodes v.
func (v V4V6Bind) Append(b []byte) []byte {
	b = append(b, v.IPv4[:]...)
	b = append(b, byte(v.Prefix.Bits()))
	a := v.Prefix.Addr().As16()
	b = append(b, a[:(v.Prefix.Bits()+7)/8]...)
	if v.PortParams != nil {
		b = AppendOption(b, OptS46PortParams, v.PortParams.Append(nil))
	}
	return b
}

// ContLW is what OPTION_S46_CONT_LW, the lw4o6 container of RFC 7598
// §5.3, carries.
type ContLW struct {
	BR   []netip.Addr // OPTION_S46_BR, one or more
	Bind *V4V6Bind
}

// ParseContLW decodes the container's body.
func ParseContLW(b []byte) (ContLW, error) {
	var c ContLW
	opts, err := ParseOptions(b, nil)
	if err != nil {
		return c, fmt.Errorf("s46-cont-lw: %w", err)
	}
	for _, o := range opts {
		switch o.Code {
		case OptS46BR:
			if len(o.Data) != 16 {
				return c, fmt.Errorf("s46-cont-lw: s46-br length %d, want 16", len(o.Data))
			}
			c.BR = append(c.BR, netip.AddrFrom16([16]byte(o.Data)))
		case OptS46V4V6Bind:
			v, err := ParseV4V6Bind(o.Data)
			if err != nil {
				return c, fmt.Errorf("s46-cont-lw: %w", err)
			}
			c.Bind = &v
		}
	}
	if len(c.BR) == 0 {
		return c, errors.New("s46-cont-lw: no s46-br")
	}
	return c, nil
}

// Append encodes c.
func (c ContLW) Append(b []byte) []byte {
	for _, a := range c.BR {
		x := a.As16()
		b = AppendOption(b, OptS46BR, x[:])
	}
	if c.Bind != nil {
		b = AppendOption(b, OptS46V4V6Bind, c.Bind.Append(nil))
	}
	return b
}

// ParseServerList decodes OPTION_DHCP4_O_DHCP6_SERVER: IPv6 addresses.
func ParseServerList(b []byte) ([]netip.Addr, error) {
	if len(b)%16 != 0 {
		return nil, fmt.Errorf("dhcp4o6-server: length %d not a multiple of 16", len(b))
	}
	out := make([]netip.Addr, 0, len(b)/16)
	for ; len(b) > 0; b = b[16:] {
		out = append(out, netip.AddrFrom16([16]byte(b[:16])))
	}
	return out, nil
}
