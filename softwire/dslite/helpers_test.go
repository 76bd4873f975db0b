package dslite

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

var (
	aftrAddr = netip.MustParseAddr("2001:db8:a::1")
	b4A      = netip.MustParseAddr("2001:db8:100::a")
	b4B      = netip.MustParseAddr("2001:db8:100::b")
	host     = netip.MustParseAddr("10.0.0.5")
	remote   = netip.MustParseAddr("203.0.113.9")
	t0       = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
)

// capture records what an engine sends.
type capture struct{ v4, v6 [][]byte }

func (c *capture) SendIPv4(p []byte) { c.v4 = append(c.v4, bytes.Clone(p)) }
func (c *capture) SendIPv6(p []byte) { c.v6 = append(c.v6, bytes.Clone(p)) }
func (c *capture) reset()            { c.v4, c.v6 = nil, nil }

// pkt4 builds an IPv4 packet with valid checksums: proto 6 (flags in
// tcpFlags, options opts), 17 or 1 (l4 is then the ICMP message after
// its checksum, type first).
type pkt4 struct {
	src, dst   netip.Addr
	proto      uint8
	sport      uint16
	dport      uint16
	ttl        uint8
	df         bool
	tcpFlags   uint8
	opts       []byte
	payload    []byte
	icmp       []byte // type, code, then everything after the checksum
	identifier uint16
}

func (k pkt4) bytes() []byte {
	var l4 []byte
	switch k.proto {
	case 6:
		l4 = make([]byte, 20+len(k.opts)+len(k.payload))
		be.PutUint16(l4, k.sport)
		be.PutUint16(l4[2:], k.dport)
		l4[12] = byte((20+len(k.opts))/4) << 4
		l4[13] = k.tcpFlags
		be.PutUint16(l4[14:], 65535)
		copy(l4[20:], k.opts)
		copy(l4[20+len(k.opts):], k.payload)
	case 17:
		l4 = make([]byte, 8+len(k.payload))
		be.PutUint16(l4, k.sport)
		be.PutUint16(l4[2:], k.dport)
		be.PutUint16(l4[4:], uint16(len(l4)))
		copy(l4[8:], k.payload)
	case 1:
		l4 = make([]byte, 2+2+len(k.icmp)-2)
		l4[0], l4[1] = k.icmp[0], k.icmp[1]
		copy(l4[4:], k.icmp[2:])
		be.PutUint16(l4[2:], netpkt.Checksum(l4))
	}
	p := make([]byte, 20+len(l4))
	p[0] = 0x45
	be.PutUint16(p[2:], uint16(len(p)))
	be.PutUint16(p[4:], k.identifier)
	if k.df {
		p[6] = 0x40
	}
	p[8] = k.ttl
	if p[8] == 0 {
		p[8] = 64
	}
	p[9] = k.proto
	copy(p[12:], k.src.AsSlice())
	copy(p[16:], k.dst.AsSlice())
	netpkt.SetIPv4Checksum(p)
	copy(p[20:], l4)
	switch k.proto {
	case 6:
		be.PutUint16(p[36:], netpkt.L4Checksum4(p[12:16], p[16:20], 6, p[20:]))
	case 17:
		be.PutUint16(p[26:], netpkt.L4Checksum4(p[12:16], p[16:20], 17, p[20:]))
	}
	return p
}

// echo returns the ICMP body of an echo request (typ 8) or reply (0).
func echo(typ byte, id, seq uint16) []byte {
	b := []byte{typ, 0, 0, 0, 0, 0, 'p', 'i', 'n', 'g'}
	be.PutUint16(b[2:], id)
	be.PutUint16(b[4:], seq)
	return b
}

func encap6(src, dst netip.Addr, inner []byte) []byte {
	h := make([]byte, 40+len(inner))
	netpkt.WriteIPv6Header(h, 0, len(inner), netpkt.ProtoIPIP, src.AsSlice(), dst.AsSlice())
	copy(h[40:], inner)
	return h
}

var testPool = netip.MustParsePrefix("198.51.100.0/30")

func newTestAFTR(t testing.TB, mod func(*AFTRConfig)) (*AFTR, *capture) {
	t.Helper()
	cfg := AFTRConfig{TunnelEndpoint: aftrAddr, Pools: []netip.Prefix{testPool}, Hairpinning: true,
		B4Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/48")}}
	if mod != nil {
		mod(&cfg)
	}
	c := &capture{}
	a, err := NewAFTR(cfg, c, t0)
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

// checkIPv4 verifies every checksum of a packet the engine sent.
func checkIPv4(t testing.TB, p []byte) {
	t.Helper()
	q, ok := netpkt.CheckIPv4(p)
	if !ok {
		t.Fatalf("bad IPv4 packet %x", p)
	}
	if netpkt.Checksum(q[:20]) != 0 {
		t.Fatalf("IPv4 header checksum wrong: %x", q[:20])
	}
	l4 := q[int(q[0]&0xf)*4:]
	switch q[9] {
	case 6:
		if netpkt.L4Checksum4(q[12:16], q[16:20], 6, l4) != 0 {
			t.Fatal("TCP checksum wrong")
		}
	case 17:
		if be.Uint16(l4[6:]) != 0 && netpkt.L4Checksum4(q[12:16], q[16:20], 17, l4) != 0 {
			t.Fatal("UDP checksum wrong")
		}
	case 1:
		if netpkt.Checksum(l4) != 0 {
			t.Fatal("ICMP checksum wrong")
		}
	}
}

// decap checks that p is IPv4-in-IPv6 from the AFTR to b4 and returns
// the inner packet, its checksums verified.
func decapTo(t testing.TB, p []byte, b4 netip.Addr) []byte {
	t.Helper()
	if len(p) < 60 || p[6] != netpkt.ProtoIPIP {
		t.Fatalf("not IPv4-in-IPv6: %x", p)
	}
	if got := netip.AddrFrom16([16]byte(p[24:40])); got != b4 {
		t.Fatalf("sent to %v, want %v", got, b4)
	}
	if got := netip.AddrFrom16([16]byte(p[8:24])); got != aftrAddr {
		t.Fatalf("sent from %v, want %v", got, aftrAddr)
	}
	checkIPv4(t, p[40:])
	return p[40:]
}

func addr4(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[:4])) }
