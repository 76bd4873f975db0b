package dhcp4o6

import (
	"errors"
	"fmt"
)

// DHCPv4 message types (option 53, RFC 2132 §9.6).
const (
	Discover = 1
	Offer    = 2
	Request  = 3
	Decline  = 4
	Ack      = 5
	Nak      = 6
	Release  = 7
)

// DHCPv4 option codes used here.
const (
	Opt4SubnetMask  = 1
	Opt4RequestedIP = 50
	Opt4LeaseTime   = 51
	Opt4MsgType     = 53
	Opt4ServerID    = 54
	Opt4ParamList   = 55
	Opt4ClientID    = 61
	Opt4PortParams  = 159 // RFC 7618
	opt4Pad         = 0
	opt4End         = 255
)

var magicCookie = [4]byte{99, 130, 83, 99}

// Option4 is one DHCPv4 option; Data aliases the decoded buffer.
type Option4 struct {
	Code uint8
	Data []byte
}

// Message4 is a DHCPv4 message (RFC 2131 §2). The sname and file fields
// are kept as bytes; option overload (option 52) is not followed.
type Message4 struct {
	Op, HType, HLen, Hops          uint8
	XID                            uint32
	Secs, Flags                    uint16
	CIAddr, YIAddr, SIAddr, GIAddr [4]byte
	CHAddr                         [16]byte
	Options                        []Option4
}

const fixed4 = 236

// ParseMessage4 decodes a DHCPv4 message.
func ParseMessage4(b []byte) (Message4, error) {
	var m Message4
	if len(b) < fixed4+4 {
		return m, fmt.Errorf("dhcpv4: %d bytes, at least %d: %w", len(b), fixed4+4, ErrShort)
	}
	m.Op, m.HType, m.HLen, m.Hops = b[0], b[1], b[2], b[3]
	if m.Op != 1 && m.Op != 2 {
		return m, fmt.Errorf("dhcpv4: op %d is neither BOOTREQUEST nor BOOTREPLY", m.Op)
	}
	m.XID = be.Uint32(b[4:])
	m.Secs, m.Flags = be.Uint16(b[8:]), be.Uint16(b[10:])
	copy(m.CIAddr[:], b[12:16])
	copy(m.YIAddr[:], b[16:20])
	copy(m.SIAddr[:], b[20:24])
	copy(m.GIAddr[:], b[24:28])
	copy(m.CHAddr[:], b[28:44])
	if [4]byte(b[fixed4:fixed4+4]) != magicCookie {
		return m, errors.New("dhcpv4: no magic cookie")
	}
	o := b[fixed4+4:]
	for len(o) > 0 {
		c := o[0]
		if c == opt4Pad {
			o = o[1:]
			continue
		}
		if c == opt4End {
			return m, nil
		}
		if len(o) < 2 || 2+int(o[1]) > len(o) {
			return m, fmt.Errorf("dhcpv4: option %d: %w", c, ErrShort)
		}
		m.Options = append(m.Options, Option4{Code: c, Data: o[2 : 2+int(o[1])]})
		o = o[2+int(o[1]):]
	}
	return m, errors.New("dhcpv4: options without an end option")
}

// Append encodes m, with an end option.
func (m Message4) Append(b []byte) []byte {
	b = append(b, m.Op, m.HType, m.HLen, m.Hops)
	b = be.AppendUint32(b, m.XID)
	b = be.AppendUint16(b, m.Secs)
	b = be.AppendUint16(b, m.Flags)
	for _, a := range [][4]byte{m.CIAddr, m.YIAddr, m.SIAddr, m.GIAddr} {
		b = append(b, a[:]...)
	}
	b = append(b, m.CHAddr[:]...)
	b = append(b, make([]byte, 64+128)...)
	b = append(b, magicCookie[:]...)
	for _, o := range m.Options {
		b = append(b, o.Code, byte(len(o.Data)))
		b = append(b, o.Data...)
	}
	return append(b, opt4End)
}

// Get4 returns the first option of code.
func (m Message4) Get4(code uint8) ([]byte, bool) {
	for _, o := range m.Options {
		if o.Code == code {
			return o.Data, true
		}
	}
	return nil, false
}

// Type returns the DHCP message type, 0 when absent or malformed.
func (m Message4) Type() uint8 {
	if d, ok := m.Get4(Opt4MsgType); ok && len(d) == 1 {
		return d[0]
	}
	return 0
}
