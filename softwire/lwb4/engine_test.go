package lwb4

import (
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

func checksum(b []byte) uint16 { return netpkt.Checksum(b) }
func setIPv4Checksum(h []byte) { netpkt.SetIPv4Checksum(h) }

func writeIPv6(h []byte, tc byte, payload int, next byte, src, dst *[16]byte) {
	netpkt.WriteIPv6Header(h, tc, payload, next, src[:], dst[:])
}

var (
	b4Addr  = netip.MustParseAddr("2001:db8:b4::1").As16()
	brAddr  = netip.MustParseAddr("2001:db8:ac::1").As16()
	pubIPv4 = uint32(0xc0000201) // 192.0.2.1
	home    = uint32(0xc0a80164) // 192.168.1.100
	server  = uint32(0xcb007107) // 203.0.113.7
	theBind = Binding{IPv4: pubIPv4, PSID: 5, PortSet: bindingtable.PortSet{Offset: 6, Length: 4}, BR: brAddr}
)

type pkts struct{ lan, wan [][]byte }

func (p *pkts) SendLAN(b []byte) { p.lan = append(p.lan, append([]byte(nil), b...)) }
func (p *pkts) SendWAN(b []byte) { p.wan = append(p.wan, append([]byte(nil), b...)) }

func newB4(t testing.TB) (*Engine, *pkts) {
	t.Helper()
	out := &pkts{}
	e, err := New(Config{B4: b4Addr}, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetBinding(theBind); err != nil {
		t.Fatal(err)
	}
	return e, out
}

// ipv4Pkt builds an IPv4 packet of proto (6, 17 or 1) with a valid
// transport checksum.
func ipv4Pkt(proto byte, src, dst uint32, sport, dport uint16, payload int) []byte {
	l4len := map[byte]int{6: 20, 17: 8, 1: 8}[proto] + payload
	p := make([]byte, 20+l4len)
	p[0] = 0x45
	be.PutUint16(p[2:], uint16(len(p)))
	be.PutUint16(p[6:], 0x4000)
	p[8], p[9] = 64, proto
	be.PutUint32(p[12:], src)
	be.PutUint32(p[16:], dst)
	setIPv4Checksum(p[:20])
	l4 := p[20:]
	for i := range payload {
		l4[len(l4)-payload+i] = byte(i)
	}
	switch proto {
	case 6:
		be.PutUint16(l4[0:], sport)
		be.PutUint16(l4[2:], dport)
		l4[12] = 0x50
	case 17:
		be.PutUint16(l4[0:], sport)
		be.PutUint16(l4[2:], dport)
		be.PutUint16(l4[4:], uint16(len(l4)))
	case 1:
		l4[0] = 8
		be.PutUint16(l4[4:], sport)
	}
	setL4Checksum(p)
	return p
}

func setL4Checksum(p []byte) {
	l4 := p[20:]
	off := map[byte]int{6: 16, 17: 6, 1: 2}[p[9]]
	l4[off], l4[off+1] = 0, 0
	be.PutUint16(l4[off:], l4Checksum(p))
}

// l4Checksum is the transport checksum of an IPv4 packet computed from
// scratch: 0 when the stored one is right.
func l4Checksum(p []byte) uint16 {
	l4 := p[20:]
	if p[9] == 1 {
		return checksum(l4)
	}
	return netpkt.L4Checksum4(p[12:16], p[16:20], p[9], l4)
}

func lwaftrEngine(t *testing.T) (*lwaftr.Engine, *capture) {
	c := lwaftr.Config{External: lwaftr.DefaultSide(true), Internal: lwaftr.DefaultSide(false), Hairpinning: true}
	c.External.IP = []byte{198, 51, 100, 1}
	c.External.NextHopMAC, c.External.NextHopMACSet = [6]byte{2, 0, 0, 0, 0, 0xee}, true
	c.Internal.IP = brAddr[:]
	c.Internal.NextHopMAC, c.Internal.NextHopMACSet = [6]byte{2, 0, 0, 0, 0, 0xdd}, true
	bt, err := lwaftr.NewTable([]lwaftr.Binding{{IPv4: pubIPv4, PSID: 5, PortSet: theBind.PortSet, B4: b4Addr, BR: brAddr}})
	if err != nil {
		t.Fatal(err)
	}
	cp := &capture{}
	e, err := lwaftr.New(c, bt, cp)
	if err != nil {
		t.Fatal(err)
	}
	return e, cp
}

type capture struct{ f [2][][]byte }

func (c *capture) Send(p lwaftr.Port, f []byte) { c.f[p] = append(c.f[p], append([]byte(nil), f...)) }

func eth(etype uint16, p []byte) []byte {
	f := make([]byte, 14+len(p))
	be.PutUint16(f[12:], etype)
	copy(f[14:], p)
	return f
}

// TestThroughLwAFTR: TCP, UDP and ping from a home host go through the
// lwB4 and the real lwAFTR engine to the Internet with our public
// address and a port of our set, and the replies come back to the host,
// every checksum right.
func TestThroughLwAFTR(t *testing.T) {
	b4, out := newB4(t)
	aftr, cap := lwaftrEngine(t)
	for _, c := range []struct {
		proto       byte
		sport, dprt uint16
	}{{6, 40000, 80}, {17, 40001, 53}, {1, 77, 0}} {
		out.wan, out.lan, cap.f = nil, nil, [2][][]byte{}
		b4.FromLAN(ipv4Pkt(c.proto, home, server, c.sport, c.dprt, 100))
		if len(out.wan) != 1 {
			t.Fatalf("proto %d: %d packets to the WAN", c.proto, len(out.wan))
		}
		w := out.wan[0]
		if w[6] != 4 || [16]byte(w[8:24]) != b4Addr || [16]byte(w[24:40]) != brAddr {
			t.Fatalf("proto %d: bad tunnel header % x", c.proto, w[:40])
		}
		aftr.Receive(lwaftr.Internal, eth(0x86dd, w))
		aftr.Flush()
		if len(cap.f[lwaftr.External]) != 1 {
			t.Fatalf("proto %d: the lwAFTR forwarded %d (counters %+v)", c.proto, len(cap.f[lwaftr.External]), aftr.C)
		}
		v4 := cap.f[lwaftr.External][0][14:]
		if be.Uint32(v4[12:]) != pubIPv4 || l4Checksum(v4) != 0 || checksum(v4[:20]) != 0 {
			t.Fatalf("proto %d: to the Internet src %x, l4 checksum %x", c.proto, be.Uint32(v4[12:]), l4Checksum(v4))
		}
		sOff := map[byte]int{6: 0, 17: 0, 1: 4}[c.proto]
		ext := be.Uint16(v4[20+sOff:])
		if theBind.PortSet.PSID(ext) != theBind.PSID || ext>>10 == 0 {
			t.Fatalf("proto %d: external port %d outside psid %d", c.proto, ext, theBind.PSID)
		}
		// The reply.
		var reply []byte
		if c.proto == 1 {
			reply = ipv4Pkt(1, server, pubIPv4, ext, 0, 100)
			reply[20] = 0
			setL4Checksum(reply)
		} else {
			reply = ipv4Pkt(c.proto, server, pubIPv4, c.dprt, ext, 100)
		}
		aftr.Receive(lwaftr.External, eth(0x0800, reply))
		aftr.Flush()
		if len(cap.f[lwaftr.Internal]) != 1 {
			t.Fatalf("proto %d: the lwAFTR encapsulated %d", c.proto, len(cap.f[lwaftr.Internal]))
		}
		b4.FromWAN(cap.f[lwaftr.Internal][0][14:])
		if len(out.lan) != 1 {
			t.Fatalf("proto %d: %d packets to the LAN (%+v)", c.proto, len(out.lan), b4.C)
		}
		l := out.lan[0]
		dOff := map[byte]int{6: 2, 17: 2, 1: 4}[c.proto]
		if be.Uint32(l[16:]) != home || be.Uint16(l[20+dOff:]) != c.sport || l4Checksum(l) != 0 || checksum(l[:20]) != 0 {
			t.Fatalf("proto %d: to the host dst %x port %d checksum %x", c.proto, be.Uint32(l[16:]), be.Uint16(l[20+dOff:]), l4Checksum(l))
		}
	}
	if b4.Mappings() != 3 {
		t.Fatalf("%d mappings, want 3", b4.Mappings())
	}
}

// TestPortSetExhaustion: offset 2 and psid-length 12 leave 2 bits, 4
// ports per offset value, and the offset value 0 is reserved: 12 ports,
// so 12 flows; the 13th is dropped; once a mapping expires its port is
// reused.
func TestPortSetExhaustion(t *testing.T) {
	out := &pkts{}
	e, _ := New(Config{B4: b4Addr, UDPTimeout: time.Minute}, out)
	now := time.Unix(100, 0)
	e.SetClock(func() time.Time { return now })
	b := Binding{IPv4: pubIPv4, PSID: 7, PortSet: bindingtable.PortSet{Offset: 2, Length: 12}, BR: brAddr}
	if err := e.SetBinding(b); err != nil {
		t.Fatal(err)
	}
	if e.Ports() != 12 {
		t.Fatalf("%d usable ports, want 12", e.Ports())
	}
	seen := map[uint16]bool{}
	for i := range 13 {
		e.FromLAN(ipv4Pkt(17, home, server, uint16(5000+i), 53, 0))
	}
	if len(out.wan) != 12 || e.C.DropPortsExhausted != 1 {
		t.Fatalf("%d sent, %d exhausted", len(out.wan), e.C.DropPortsExhausted)
	}
	for _, w := range out.wan {
		p := be.Uint16(w[40+20:])
		if b.PortSet.PSID(p) != 7 || p>>14 == 0 || seen[p] {
			t.Fatalf("port %d", p)
		}
		seen[p] = true
	}
	// The same flow again keeps its port.
	out.wan = nil
	e.FromLAN(ipv4Pkt(17, home, server, 5000, 53, 0))
	if len(out.wan) != 1 || !seen[be.Uint16(out.wan[0][60:])] {
		t.Fatal("existing flow lost its mapping")
	}
	now = now.Add(2 * time.Minute)
	out.wan = nil
	e.FromLAN(ipv4Pkt(17, home, server, 6000, 53, 0))
	if len(out.wan) != 1 {
		t.Fatal("expired port not reused")
	}
}

// TestICMPv6TriggerReprovisions: the lwAFTR's Destination Unreachable
// code 5 about one of our packets makes the lwB4 provision again, once
// per interval; the same error about a packet that is not ours does not.
func TestICMPv6TriggerReprovisions(t *testing.T) {
	b4, out := newB4(t)
	n := 0
	b4.OnReprovision = func() { n++ }
	aftr, cap := lwaftrEngine(t)
	aftr.RemoveBinding(pubIPv4, 5) // the backup: no binding for us
	b4.FromLAN(ipv4Pkt(6, home, server, 40000, 80, 0))
	for range 3 {
		aftr.Receive(lwaftr.Internal, eth(0x86dd, out.wan[0]))
	}
	aftr.Flush()
	if len(cap.f[lwaftr.Internal]) == 0 {
		t.Fatal("the lwAFTR sent no ICMPv6 error")
	}
	for _, f := range cap.f[lwaftr.Internal] {
		b4.FromWAN(f[14:])
	}
	if n != 1 || b4.C.ReprovisionTriggers != uint64(len(cap.f[lwaftr.Internal])) {
		t.Fatalf("reprovisioned %d times for %d triggers", n, b4.C.ReprovisionTriggers)
	}
	// An error quoting someone else's packet.
	e := append([]byte(nil), cap.f[lwaftr.Internal][0][14:]...)
	e[48+8+15] ^= 1 // quoted source
	m := e[40:]
	m[2], m[3] = 0, 0
	be.PutUint16(m[2:], netpkt.ICMPv6Checksum(e[8:24], e[24:40], m))
	before := b4.C.ReprovisionTriggers
	b4.FromWAN(e)
	if b4.C.ReprovisionTriggers != before {
		t.Fatal("an error about another B4's packet counted as a trigger")
	}
}

// TestWANChecks: packets not from our lwAFTR, not to our address or
// outside our port set are dropped.
func TestWANChecks(t *testing.T) {
	b4, out := newB4(t)
	mk := func(src [16]byte, dst uint32, dport uint16) []byte {
		in := ipv4Pkt(6, server, dst, 80, dport, 0)
		p := make([]byte, 40+len(in))
		writeIPv6(p, 0, len(in), 4, &src, &b4Addr)
		copy(p[40:], in)
		return p
	}
	b4.FromLAN(ipv4Pkt(6, home, server, 40000, 80, 0))
	ext := be.Uint16(out.wan[0][60:])
	other := brAddr
	other[15]++
	b4.FromWAN(mk(other, pubIPv4, ext))
	b4.FromWAN(mk(brAddr, pubIPv4+1, ext))
	b4.FromWAN(mk(brAddr, pubIPv4, ext^0x8000))
	if len(out.lan) != 0 || b4.C.DropNotForUs != 2 || b4.C.DropNoMapping != 1 {
		t.Fatalf("lan %d, not-for-us %d, no-mapping %d", len(out.lan), b4.C.DropNotForUs, b4.C.DropNoMapping)
	}
	b4.FromWAN(mk(brAddr, pubIPv4, ext))
	if len(out.lan) != 1 {
		t.Fatal("the right packet was dropped")
	}
}

func TestTooBig(t *testing.T) {
	b4, out := newB4(t)
	b4.FromLAN(ipv4Pkt(17, home, server, 1000, 53, 1500-20-8-39))
	if len(out.wan) != 0 || len(out.lan) != 1 {
		t.Fatalf("wan %d lan %d", len(out.wan), len(out.lan))
	}
	m := out.lan[0][20:]
	if m[0] != 3 || m[1] != 4 || be.Uint16(m[6:]) != 1460 || checksum(m) != 0 {
		t.Fatalf("frag needed: type %d code %d mtu %d", m[0], m[1], be.Uint16(m[6:]))
	}
}

type nopSend struct{}

func (nopSend) SendLAN([]byte) {}
func (nopSend) SendWAN([]byte) {}

// BenchmarkEncapDecap: one LAN packet out and its reply in, per op.
func BenchmarkEncapDecap(b *testing.B) {
	e, err := New(Config{B4: b4Addr}, nopSend{})
	if err != nil {
		b.Fatal(err)
	}
	e.SetBinding(theBind)
	out := &pkts{}
	e.send = out
	up := ipv4Pkt(17, home, server, 40000, 53, 64)
	e.FromLAN(up)
	ext := be.Uint16(out.wan[0][60:])
	in := ipv4Pkt(17, server, pubIPv4, 53, ext, 64)
	down := make([]byte, 40+len(in))
	writeIPv6(down, 0, len(in), 4, &brAddr, &b4Addr)
	copy(down[40:], in)
	e.send = nopSend{}
	b.ReportAllocs()
	b.SetBytes(int64(len(up) + len(in)))
	for b.Loop() {
		e.FromLAN(up)
		e.FromWAN(down)
	}
	if e.C.DecapPackets < uint64(b.N) {
		b.Fatalf("decap %d of %d", e.C.DecapPackets, b.N)
	}
}

func FuzzFromWAN(f *testing.F) {
	in := ipv4Pkt(6, server, pubIPv4, 80, 5<<6|1<<10, 0)
	p := make([]byte, 40+len(in))
	writeIPv6(p, 0, len(in), 4, &brAddr, &b4Addr)
	copy(p[40:], in)
	f.Add(p)
	f.Fuzz(func(t *testing.T, p []byte) {
		b4, _ := newB4(t)
		b4.FromLAN(ipv4Pkt(6, home, server, 40000, 80, 0))
		b4.FromWAN(p)
	})
}

func FuzzFromLAN(f *testing.F) {
	f.Add(ipv4Pkt(6, home, server, 40000, 80, 10))
	f.Add(ipv4Pkt(1, home, server, 7, 0, 10))
	f.Fuzz(func(t *testing.T, p []byte) {
		b4, _ := newB4(t)
		b4.FromLAN(p)
	})
}
