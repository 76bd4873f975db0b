package dhcp4o6

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

func TestPortParams(t *testing.T) {
	// RFC 7598 §4.5: offset 6, psid-len 4, psid 5 left-aligned is 0x5000.
	p, err := ParsePortParams([]byte{6, 4, 0x50, 0x00})
	if err != nil || p != (PortParams{Offset: 6, PSIDLen: 4, PSID: 5}) {
		t.Fatalf("%+v %v", p, err)
	}
	if got := p.Append(nil); !bytes.Equal(got, []byte{6, 4, 0x50, 0}) {
		t.Fatalf("Append % x", got)
	}
	for _, c := range []struct {
		b   []byte
		why string
	}{
		{[]byte{6, 4, 0x50}, "length 3"},
		{[]byte{16, 0, 0, 0}, "offset 16"},
		{[]byte{6, 11, 0, 0}, "exceed 16"},
		{[]byte{6, 4, 0x50, 0x01}, "beyond psid-len"},
		{[]byte{0, 0, 0, 1}, "psid-len 0"},
	} {
		if _, err := ParsePortParams(c.b); err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("% x: %v, want %q", c.b, err, c.why)
		}
	}
}

func TestContLWRoundTrip(t *testing.T) {
	pp := &PortParams{Offset: 6, PSIDLen: 8, PSID: 0x34}
	c := ContLW{BR: []netip.Addr{netip.MustParseAddr("2001:db8:ac::1")},
		Bind: &V4V6Bind{IPv4: [4]byte{192, 0, 2, 1}, Prefix: netip.MustParsePrefix("2001:db8:b4::/56"), PortParams: pp}}
	b := c.Append(nil)
	got, err := ParseContLW(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.BR[0] != c.BR[0] || got.Bind.IPv4 != c.Bind.IPv4 || got.Bind.Prefix != c.Bind.Prefix || *got.Bind.PortParams != *pp {
		t.Fatalf("round trip %+v", got)
	}
	// Bind prefix of 56 bits takes 7 bytes (RFC 7598 §4.4).
	if v := b[4+16+4:]; v[4] != 56 || len(v) != 4+1+7+8 {
		t.Fatalf("v4v6bind body % x", v)
	}
	if _, err := ParseContLW(AppendOption(nil, OptS46BR, make([]byte, 4))); err == nil {
		t.Fatal("short s46-br accepted")
	}
	if _, err := ParseContLW(nil); err == nil {
		t.Fatal("container without a BR accepted")
	}
	if _, err := ParseV4V6Bind([]byte{1, 2, 3, 4, 129}); err == nil {
		t.Fatal("prefix length 129 accepted")
	}
	if _, err := ParseV4V6Bind([]byte{1, 2, 3, 4, 64, 1}); err == nil {
		t.Fatal("truncated prefix accepted")
	}
}

func TestMessages(t *testing.T) {
	m := Message{Type: MsgDHCPv4Query, XID: 1 << 23, Options: []Option{{OptDHCPv4Msg, []byte{1, 2}}}}
	got, err := ParseMessage(m.Append(nil))
	if err != nil || got.Type != m.Type || got.XID != m.XID || !bytes.Equal(got.Options[0].Data, []byte{1, 2}) {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := ParseMessage([]byte{1, 0, 0, 1, 0, 1, 0, 9, 1}); err == nil {
		t.Fatal("option longer than the message accepted")
	}
	r := RelayMessage{Type: MsgRelayForw, HopCount: 1, Contained: m.Append(nil)}
	gr, err := ParseRelay(r.Append(nil))
	if err != nil || !bytes.Equal(gr.Contained, r.Contained) {
		t.Fatalf("relay %+v %v", gr, err)
	}
	m4 := Message4{Op: 1, HType: 1, HLen: 6, XID: 7, Options: []Option4{{Opt4MsgType, []byte{Discover}}, {Opt4PortParams, []byte{6, 4, 0x50, 0}}}}
	g4, err := ParseMessage4(m4.Append(nil))
	if err != nil || g4.Type() != Discover || g4.XID != 7 {
		t.Fatalf("dhcpv4 %+v %v", g4, err)
	}
	b := m4.Append(nil)
	if _, err := ParseMessage4(b[:len(b)-1]); err == nil {
		t.Fatal("dhcpv4 without end accepted")
	}
	if _, err := ParseMessage4(b[:len(b)-3]); err == nil {
		t.Fatal("truncated dhcpv4 option accepted")
	}
}

// FuzzDHCPv6 decodes a DHCPv6 message the way the client does: the message
// or relay message, then every RFC 7341 / RFC 7598 option it knows.
func FuzzDHCPv6(f *testing.F) {
	pp := &PortParams{Offset: 6, PSIDLen: 4, PSID: 5}
	cont := ContLW{BR: []netip.Addr{netip.MustParseAddr("2001:db8::1")}, Bind: &V4V6Bind{Prefix: netip.MustParsePrefix("2001:db8::/64"), PortParams: pp}}.Append(nil)
	m4 := Message4{Op: 2, Options: []Option4{{Opt4MsgType, []byte{Ack}}}}.Append(nil)
	f.Add(Message{Type: MsgReply, Options: []Option{{OptS46ContLW, cont}, {OptDHCP4o6Server, make([]byte, 16)}}}.Append(nil))
	f.Add(Message{Type: MsgDHCPv4Answer, Options: []Option{{OptDHCPv4Msg, m4}}}.Append(nil))
	f.Add(RelayMessage{Type: MsgRelayRepl, Contained: []byte{7, 0, 0, 1}}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var opts []Option
		if len(b) > 0 && (b[0] == MsgRelayForw || b[0] == MsgRelayRepl) {
			r, err := ParseRelay(b)
			if err != nil {
				return
			}
			if _, err := ParseMessage(r.Contained); err != nil {
				return
			}
			opts = r.Options
		} else {
			m, err := ParseMessage(b)
			if err != nil {
				return
			}
			opts = m.Options
		}
		for _, o := range opts {
			switch o.Code {
			case OptS46ContLW:
				if c, err := ParseContLW(o.Data); err == nil {
					if again, err := ParseContLW(c.Append(nil)); err != nil || len(again.BR) != len(c.BR) {
						t.Fatalf("re-encoded container: %v", err)
					}
				}
			case OptDHCP4o6Server:
				ParseServerList(o.Data)
			case OptDHCPv4Msg:
				ParseMessage4(o.Data)
			}
		}
	})
}

// FuzzDHCPv4 decodes DHCPv4 messages and their RFC 7618 port parameters.
func FuzzDHCPv4(f *testing.F) {
	f.Add(Message4{Op: 2, Options: []Option4{{Opt4MsgType, []byte{Offer}}, {Opt4PortParams, []byte{6, 4, 0x50, 0}}}}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage4(b)
		if err != nil {
			return
		}
		if pp, ok := m.Get4(Opt4PortParams); ok {
			if p, err := ParsePortParams(pp); err == nil {
				if q, err := ParsePortParams(p.Append(nil)); err != nil || q != p {
					t.Fatalf("port params round trip %+v %+v %v", p, q, err)
				}
			}
		}
		if _, err := ParseMessage4(m.Append(nil)); err != nil {
			t.Fatalf("re-encoded message: %v", err)
		}
	})
}
