package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/wirebeat/wirebeat/sfc/classify"
	"github.com/wirebeat/wirebeat/sfc/nsh"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// sent is one packet an Output saw.
type sent struct {
	kind  string // "nsh", "route", "legacy"
	to    netip.Addr
	dscp  uint8
	proto uint8
	pkt   []byte
}

type recorder struct{ got []sent }

func (r *recorder) SendNSH(to netip.Addr, dscp uint8, pkt []byte) {
	r.got = append(r.got, sent{kind: "nsh", to: to, dscp: dscp, pkt: bytes.Clone(pkt)})
}
func (r *recorder) Route(proto uint8, pkt []byte) {
	r.got = append(r.got, sent{kind: "route", proto: proto, pkt: bytes.Clone(pkt)})
}
func (r *recorder) ToLegacy(proto uint8, pkt []byte) {
	r.got = append(r.got, sent{kind: "legacy", proto: proto, pkt: bytes.Clone(pkt)})
}
func (r *recorder) take() []sent { g := r.got; r.got = nil; return g }

func udp4(src, dst string, tos uint8, sport, dport uint16, payload int) []byte {
	p := make([]byte, 28+payload)
	p[0], p[1], p[8], p[9] = 0x45, tos, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := addr(src).As4(), addr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], ipChecksum(p[:20]))
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], dport)
	binary.BigEndian.PutUint16(p[24:], uint16(8+payload))
	for i := range payload {
		p[28+i] = byte(i)
	}
	return p
}

func inBuf(pkt []byte) ([]byte, int) {
	b := make([]byte, Headroom+len(pkt))
	copy(b[Headroom:], pkt)
	return b, Headroom
}

// The domain of the tests: boundary B (classifier, ingress and egress) at
// 10.0.0.1; SF fw on node A (10.0.1.1) and A2 (10.0.1.2); SF dpi on node D
// (10.0.2.1). Map 10 = [fw, dpi]; map 20 = [dpi].
var (
	locB  = addr("10.0.0.1")
	locA  = addr("10.0.1.1")
	locA2 = addr("10.0.1.2")
	locD  = addr("10.0.2.1")
)

func domain() Config {
	return Config{
		LoopDetection: true,
		LoopAction:    LoopDrop,
		BoundaryNodes: []netip.Addr{locB},
		SFs: []SF{
			{ID: "fw", Locators: []Locator{{Addr: locA, Weight: 1}}},
			{ID: "dpi", Locators: []Locator{{Addr: locD, Weight: 1}}},
		},
		Maps: []Map{
			{Index: 10, SFs: []string{"fw", "dpi"}, Egress: locB, MD1: [16]byte{0: 0xc0, 15: 0x0a}},
			{Index: 20, SFs: []string{"dpi"}, Egress: locB, MD1: [16]byte{0: 0xc0, 15: 0x14}},
		},
		Rules: []classify.Rule{
			{Name: "web", Priority: 10, Dst: netip.MustParsePrefix("192.0.2.0/24"), HasProto: true, Proto: 17, DstPort: classify.PortRange{Set: true, Lo: 80, Hi: 80}, MapIndex: 10},
			{Name: "dns", Priority: 20, HasProto: true, Proto: 17, DstPort: classify.PortRange{Set: true, Lo: 53, Hi: 53}, MapIndex: 20},
		},
	}
}

func boundaryCfg() Config { c := domain(); c.Boundary, c.Classifier = true, true; return c }
func sfCfg(local string) Config {
	c := domain()
	c.SFNode, c.LocalSF = true, local
	return c
}

func mustNode(t testing.TB, c Config) (*Node, *Worker, *recorder) {
	t.Helper()
	tb, err := Build(c)
	if err != nil {
		t.Fatal(err)
	}
	n := New(Hooks{})
	n.Install(tb)
	r := &recorder{}
	return n, n.NewWorker(r), r
}

func one(t *testing.T, r *recorder, kind string) sent {
	t.Helper()
	g := r.take()
	if len(g) != 1 || g[0].kind != kind {
		t.Fatalf("want one %s, got %+v", kind, g)
	}
	return g[0]
}

func decode(t *testing.T, pkt []byte) (nsh.Header, []byte) {
	t.Helper()
	var h nsh.Header
	n, err := h.Decode(pkt)
	if err != nil {
		t.Fatalf("decode %x: %v", pkt, err)
	}
	return h, pkt[n:]
}

// Two rules take two chains, every hop counts, the server gets the packet
// as the client sent it, and unmatched traffic bypasses the chain.
func TestTwoChainsEndToEnd(t *testing.T) {
	bn, bw, br := mustNode(t, boundaryCfg())
	an, aw, ar := mustNode(t, sfCfg("fw"))
	dn, dw, dr := mustNode(t, sfCfg("dpi"))

	web := udp4("198.51.100.7", "192.0.2.10", 0xb8, 4000, 80, 100) // DSCP 46
	b, off := inBuf(web)
	bw.FromOutside(b, off)
	s := one(t, br, "nsh")
	h, inner := decode(t, s.pkt)
	if s.to != locA || s.dscp != 46 || h.SPI != 10 || h.SI != 255 || h.TTL != 63 || h.MDType != 1 || h.NextProtocol != nsh.ProtoIPv4 || h.Context[15] != 0x0a {
		t.Fatalf("ingress sent %+v header %+v", s, h)
	}
	if !bytes.Equal(inner, web) {
		t.Fatal("inner changed at ingress")
	}
	b, off = inBuf(s.pkt)
	aw.FromDomain(b, off, locB)
	s = one(t, ar, "nsh")
	h, _ = decode(t, s.pkt)
	if s.to != locD || h.SI != 254 || h.TTL != 62 {
		t.Fatalf("fw node sent to %v SI %d TTL %d", s.to, h.SI, h.TTL)
	}
	b, off = inBuf(s.pkt)
	dw.FromDomain(b, off, locA)
	s = one(t, dr, "nsh")
	h, _ = decode(t, s.pkt)
	if s.to != locB || h.SI != 253 {
		t.Fatalf("dpi node sent to %v SI %d", s.to, h.SI)
	}
	b, off = inBuf(s.pkt)
	bw.FromDomain(b, off, locD)
	s = one(t, br, "route")
	if s.proto != nsh.ProtoIPv4 || !bytes.Equal(s.pkt, web) {
		t.Fatalf("egress routed %x", s.pkt)
	}

	// DNS goes on map 20: straight to dpi, SI 255.
	dns := udp4("198.51.100.7", "203.0.113.1", 0, 5000, 53, 30)
	b, off = inBuf(dns)
	bw.FromOutside(b, off)
	s = one(t, br, "nsh")
	h, _ = decode(t, s.pkt)
	if s.to != locD || h.SPI != 20 || h.SI != 255 {
		t.Fatalf("dns: to %v %+v", s.to, h)
	}
	// Other traffic bypasses the chain.
	b, off = inBuf(udp4("198.51.100.7", "203.0.113.1", 0, 5000, 443, 30))
	bw.FromOutside(b, off)
	one(t, br, "route")

	if c := an.Counters(); c.Invocations != 1 || c.Forwarded != 1 {
		t.Errorf("fw node counters %+v", c)
	}
	if c := dn.Counters(); c.Invocations != 1 || c.Forwarded != 1 {
		t.Errorf("dpi node counters %+v", c)
	}
	c := bn.Counters()
	if c.Classified != 2 || c.Unclassified != 1 || c.Routed != 1 || c.Decapsulated != 1 || c.Forwarded != 2 {
		t.Errorf("boundary counters %+v", c)
	}
	want := map[[2]uint32]uint64{{10, 255}: 1, {10, 253}: 1, {20, 255}: 1}
	for _, e := range bn.Table().Entries() {
		if e.Packets != want[[2]uint32{e.SPI, uint32(e.SI)}] {
			t.Errorf("boundary entry %d/%d: %d packets", e.SPI, e.SI, e.Packets)
		}
	}
	rc := bn.Table().RuleCounters()
	if rc[0].Name != "web" || rc[0].Packets != 1 || rc[0].Bytes != uint64(len(web)) || rc[1].Packets != 1 {
		t.Errorf("rule counters %+v", rc)
	}
}

func TestMD2ContextCarried(t *testing.T) {
	c := boundaryCfg()
	c.MDType = nsh.MDType2
	var md2 []byte
	md2, _ = nsh.AppendTLV(md2, nsh.TLV{Class: 0x0100, Type: 1, Value: []byte("tenant-7")})
	c.Maps[0].MD2 = md2
	_, w, r := mustNode(t, c)
	b, off := inBuf(udp4("198.51.100.7", "192.0.2.10", 0, 4000, 80, 10))
	w.FromOutside(b, off)
	h, _ := decode(t, one(t, r, "nsh").pkt)
	it := h.TLVs()
	tlv, ok := it.Next()
	if h.MDType != 2 || !ok || string(tlv.Value) != "tenant-7" || tlv.Class != 0x0100 {
		t.Fatalf("%+v %+v", h, tlv)
	}
}

func nshPacket(spi uint32, si, ttl uint8) []byte {
	h := nsh.Header{TTL: ttl, MDType: 1, NextProtocol: nsh.ProtoIPv4, SPI: spi, SI: si}
	b := make([]byte, nsh.MD1Len)
	_, _ = h.Encode(b)
	return append(b, udp4("198.51.100.7", "192.0.2.10", 0, 4000, 80, 10)...)
}

// Loop detection (seed 004 section 9.6): the local SF is invoked only for
// packets from a boundary node or from an SF listed before it.
func TestLoopDetection(t *testing.T) {
	var loops int
	c := sfCfg("dpi")
	tb, _ := Build(c)
	n := New(Hooks{OnLoop: func(uint32, uint8, netip.Addr) { loops++ }})
	n.Install(tb)
	r := &recorder{}
	w := n.NewWorker(r)

	b, off := inBuf(nshPacket(10, 254, 10)) // from fw, listed before dpi
	w.FromDomain(b, off, locA)
	one(t, r, "nsh")
	b, off = inBuf(nshPacket(10, 254, 10)) // from dpi's own locator: a loop
	w.FromDomain(b, off, locD)
	if g := r.take(); len(g) != 0 {
		t.Fatalf("looping packet sent: %+v", g)
	}
	b, off = inBuf(nshPacket(10, 254, 10)) // from an address no SF of the map has
	w.FromDomain(b, off, addr("10.9.9.9"))
	r.take()
	cn := n.Counters()
	if cn.LoopDetected != 2 || cn.Drops[DropLoop] != 2 || cn.Invocations != 1 || loops != 1 {
		t.Fatalf("counters %+v, %d notifications (rate limited to 1/s)", cn, loops)
	}

	// Action forward: passes on without invoking.
	c.LoopAction = LoopForward
	n2, w2, r2 := mustNode(t, c)
	b, off = inBuf(nshPacket(10, 254, 10))
	w2.FromDomain(b, off, locD)
	s := one(t, r2, "nsh")
	if h, _ := decode(t, s.pkt); s.to != locB || h.SI != 253 || n2.Counters().Invocations != 0 || n2.Counters().LoopDetected != 1 {
		t.Fatalf("forwarded %+v, counters %+v", s, n2.Counters())
	}

	// Disabled: invoked whatever the previous hop.
	c.LoopDetection = false
	n3, w3, r3 := mustNode(t, c)
	b, off = inBuf(nshPacket(10, 254, 10))
	w3.FromDomain(b, off, locD)
	one(t, r3, "nsh")
	if n3.Counters().Invocations != 1 {
		t.Fatal("not invoked with loop detection off")
	}
}

// Bad input is dropped and counted by cause, and nothing is sent.
func TestBadInput(t *testing.T) {
	n, w, r := mustNode(t, sfCfg("fw"))
	good := nshPacket(10, 255, 10)
	md2 := []byte{0x00, 0xc3, 0x02, 0x01, 0, 0, 10, 255, 0, 1, 2, 9} // TLV of 9 octets in 4
	cases := []struct {
		name string
		pkt  []byte
		drop Drop
		err  nsh.Error
	}{
		{"truncated", good[:6], DropMalformed, nsh.ErrTruncated},
		{"version", func() []byte { b := bytes.Clone(good); b[0] |= 0x40; return b }(), DropMalformed, nsh.ErrVersion},
		{"length beyond packet", good[:20], DropMalformed, nsh.ErrLength},
		{"md2 TLV overflow", append(md2, make([]byte, 20)...), DropMalformed, nsh.ErrTLVOverflow},
		{"unknown SPI", nshPacket(99, 255, 10), DropUnknownSPI, 0},
		{"SI 0", nshPacket(10, 0, 10), DropSIExhausted, 0},
		{"SI below map end", nshPacket(10, 200, 10), DropSIExhausted, 0},
		{"TTL 1", nshPacket(10, 255, 1), DropTTL, 0},
	}
	for _, c := range cases {
		before := n.Counters()
		b, off := inBuf(c.pkt)
		w.FromDomain(b, off, locB)
		after := n.Counters()
		if g := r.take(); len(g) != 0 {
			t.Errorf("%s: sent %+v", c.name, g)
		}
		if after.Drops[c.drop] != before.Drops[c.drop]+1 {
			t.Errorf("%s: %v not counted", c.name, c.drop)
		}
		if c.err != 0 && after.Malformed[c.err] != before.Malformed[c.err]+1 {
			t.Errorf("%s: %v not counted", c.name, c.err)
		}
	}
}

// Several locators: flows stick to one; a Down locator's flows move to
// the others and only those; on-failure applies when none is left.
func TestLocatorsLivenessAndOnFailure(t *testing.T) {
	c := boundaryCfg()
	c.SFs[0].Locators = []Locator{{Addr: locA, Weight: 1}, {Addr: locA2, Weight: 1}}
	var changes []string
	tb, _ := Build(c)
	n := New(Hooks{OnLiveness: func(a netip.Addr, o, nw Liveness) { changes = append(changes, fmt.Sprint(a, o, nw)) }})
	n.Install(tb)
	r := &recorder{}
	w := n.NewWorker(r)
	route := func(sport uint16) netip.Addr {
		b, off := inBuf(udp4("198.51.100.7", "192.0.2.10", 0, sport, 80, 10))
		w.FromOutside(b, off)
		g := r.take()
		if len(g) != 1 {
			t.Fatalf("flow %d: %+v", sport, g)
		}
		if g[0].kind != "nsh" {
			return netip.Addr{}
		}
		return g[0].to
	}
	first := map[uint16]netip.Addr{}
	count := map[netip.Addr]int{}
	for sp := uint16(1000); sp < 1400; sp++ {
		first[sp] = route(sp)
		count[first[sp]]++
		if route(sp) != first[sp] {
			t.Fatalf("flow %d moved without a liveness change", sp)
		}
	}
	if count[locA] < 120 || count[locA2] < 120 {
		t.Fatalf("unbalanced: %v", count)
	}
	n.SetLiveness(locA, Up)
	n.SetLiveness(locA2, Down)
	for sp, was := range first {
		if got := route(sp); got != locA {
			t.Fatalf("flow %d on %v with %v down", sp, got, locA2)
		} else if was == locA && got != was {
			t.Fatalf("flow %d of a live locator moved", sp)
		}
	}
	if e := n.Table().Entries(); e[0].SPI != 10 || len(e[0].NextHops) != 1 || e[0].NextHops[0] != locA {
		t.Fatalf("table entry %+v", e[0])
	}
	n.SetLiveness(locA2, Up)
	for sp, was := range first {
		if route(sp) != was {
			t.Fatalf("flow %d did not come back", sp)
		}
	}
	// Both down: map 10 drops (on-failure drop) ...
	n.SetLiveness(locA, Down)
	n.SetLiveness(locA2, Down)
	b, off := inBuf(udp4("198.51.100.7", "192.0.2.10", 0, 1000, 80, 10))
	w.FromOutside(b, off)
	if g := r.take(); len(g) != 0 || n.Counters().Drops[DropSFUnreachable] != 1 {
		t.Fatalf("not dropped with no fw locator: %+v", g)
	}
	// ... or skips fw when the map allows it, keeping the liveness known.
	c.Maps[0].OnFailure = FailSkip
	tb, _ = Build(c)
	n.Install(tb)
	b, off = inBuf(udp4("198.51.100.7", "192.0.2.10", 0, 1000, 80, 10))
	w.FromOutside(b, off)
	s := one(t, r, "nsh")
	if h, _ := decode(t, s.pkt); s.to != locD || h.SI != 254 {
		t.Fatalf("skip: to %v SI %d", s.to, h.SI)
	}
	if len(changes) != 5 {
		t.Fatalf("liveness hooks: %v", changes)
	}
}

func TestPolicyTableChecks(t *testing.T) {
	c := sfCfg("fw")
	c.Lightweight = true
	if _, err := Build(c); !errors.Is(err, ErrLightLoop) {
		t.Fatalf("lightweight with loop detection: %v", err)
	}
	c.LoopDetection = false
	if _, err := Build(c); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("map 20 does not list fw: %v", err)
	}
	c.Maps = c.Maps[:1]
	tb, err := Build(c)
	if err != nil {
		t.Fatal(err)
	}
	// Only fw's position and the next hop after it.
	e := tb.Entries()
	if len(e) != 2 || e[0].SI != 255 || e[0].Action != ActLocal || e[1].SI != 254 || e[1].NextSF != "dpi" {
		t.Fatalf("lightweight entries %+v", e)
	}
	n := New(Hooks{})
	n.Install(tb)
	r := &recorder{}
	w := n.NewWorker(r)
	b, off := inBuf(nshPacket(10, 253, 10)) // a position the light table does not keep
	w.FromDomain(b, off, locD)
	if n.Counters().Drops[DropUnknownSI] != 1 {
		t.Fatal("unknown SI not counted")
	}
	full, _ := Build(sfCfg("fw"))
	if len(full.Entries()) != 5 {
		t.Fatalf("full table entries %+v", full.Entries())
	}
	bad := sfCfg("nat")
	if _, err := Build(bad); !errors.Is(err, ErrLocalSF) {
		t.Fatalf("unknown local SF: %v", err)
	}
	dup := domain()
	dup.Maps[0].SFs = []string{"fw", "fw"}
	if _, err := Build(dup); err == nil {
		t.Fatal("SF twice in a map accepted")
	}
	unk := boundaryCfg()
	unk.Rules[0].MapIndex = 77
	if _, err := Build(unk); !errors.Is(err, ErrUnknownMap) {
		t.Fatalf("rule on unknown map: %v", err)
	}
}

// The SFC proxy hands the packet without NSH to the legacy function and
// restores the NSH when it comes back.
func TestProxy(t *testing.T) {
	c := sfCfg("fw")
	c.LocalKind = Proxy
	n, w, r := mustNode(t, c)
	in := nshPacket(10, 255, 10)
	b, off := inBuf(in)
	w.FromDomain(b, off, locB)
	l := one(t, r, "legacy")
	if !bytes.Equal(l.pkt, in[nsh.MD1Len:]) || l.proto != nsh.ProtoIPv4 {
		t.Fatalf("to legacy %x", l.pkt)
	}
	// The function decrements the IP TTL, as a Linux router does.
	back := bytes.Clone(l.pkt)
	back[8]--
	b, off = inBuf(back)
	w.FromLegacy(b, off)
	s := one(t, r, "nsh")
	h, inner := decode(t, s.pkt)
	if s.to != locD || h.SPI != 10 || h.SI != 254 || h.TTL != 9 || !bytes.Equal(inner, back) {
		t.Fatalf("restored to %v %+v", s.to, h)
	}
	// A flow the function rewrote (NAT): the local SF is on one map only,
	// so that map it is.
	nat := udp4("100.64.0.1", "192.0.2.10", 0, 30000, 80, 10)
	b, off = inBuf(nat)
	w.FromLegacy(b, off)
	s = one(t, r, "nsh")
	if h, _ := decode(t, s.pkt); h.SPI != 10 || h.SI != 254 {
		t.Fatalf("fallback %+v", h)
	}
	if c := n.Counters(); c.ToLegacy != 1 || c.FromLegacy != 2 {
		t.Fatalf("%+v", c)
	}
}

// Section 6: a packet too big for the transport is fragmented, and each
// fragment carries the NSH.
func TestFragmentation(t *testing.T) {
	c := boundaryCfg()
	c.MaxNSHPacket = 200
	n, w, r := mustNode(t, c)
	big := udp4("198.51.100.7", "192.0.2.10", 0, 4000, 80, 500)
	b, off := inBuf(big)
	w.FromOutside(b, off)
	g := r.take()
	if len(g) < 3 {
		t.Fatalf("%d packets", len(g))
	}
	var data []byte
	for i, s := range g {
		if len(s.pkt) > 200 || s.to != locA {
			t.Fatalf("fragment %d: %d octets to %v", i, len(s.pkt), s.to)
		}
		h, ip := decode(t, s.pkt)
		if h.SPI != 10 || h.SI != 255 {
			t.Fatalf("fragment %d header %+v", i, h)
		}
		ff := binary.BigEndian.Uint16(ip[6:8])
		if int(ff&0x1fff)*8 != len(data) || (ff&0x2000 != 0) != (i < len(g)-1) {
			t.Fatalf("fragment %d offset/MF %#x", i, ff)
		}
		if ipChecksum(ip[:20]) != 0 {
			t.Fatalf("fragment %d checksum", i)
		}
		data = append(data, ip[20:binary.BigEndian.Uint16(ip[2:4])]...)
	}
	if !bytes.Equal(data, big[20:]) {
		t.Fatal("fragments do not reassemble to the packet")
	}
	if n.Counters().Fragments != uint64(len(g)) {
		t.Fatal("fragments not counted")
	}
	df := bytes.Clone(big)
	df[6] |= 0x40
	b, off = inBuf(df)
	w.FromOutside(b, off)
	if len(r.take()) != 0 || n.Counters().Drops[DropTooBig] != 1 {
		t.Fatal("DF packet not dropped")
	}
}

// Section 11: an SF Map Index from outside is never trusted.
func TestExternalNSHStripped(t *testing.T) {
	n, w, r := mustNode(t, boundaryCfg())
	forged := nshPacket(20, 255, 63) // says map 20, inner is web traffic: map 10
	b, off := inBuf(forged)
	w.FromOutsideNSH(b, off)
	s := one(t, r, "nsh")
	if h, _ := decode(t, s.pkt); h.SPI != 10 || s.to != locA || n.Counters().StrippedExternal != 1 {
		t.Fatalf("%+v %v", h, s.to)
	}
}

func TestNoAllocPerPacket(t *testing.T) {
	_, bw, _ := mustNode(t, boundaryCfg())
	_, aw, _ := mustNode(t, sfCfg("fw"))
	null := nullOut{}
	bw.out, aw.out = null, null
	web := udp4("198.51.100.7", "192.0.2.10", 0, 4000, 80, 100)
	b, off := inBuf(web)
	in := nshPacket(10, 255, 63)
	b2, off2 := inBuf(in)
	a := testing.AllocsPerRun(1000, func() {
		copy(b[off:], web)
		bw.FromOutside(b, off)
		copy(b2[off2:], in)
		aw.FromDomain(b2, off2, locB)
		bw.FromDomain(b2, off2, locD)
	})
	if a != 0 {
		t.Fatalf("%v allocations per packet", a)
	}
}

type nullOut struct{}

func (nullOut) SendNSH(netip.Addr, uint8, []byte) {}
func (nullOut) Route(uint8, []byte)               {}
func (nullOut) ToLegacy(uint8, []byte)            {}

func benchNode(b *testing.B, c Config) *Worker {
	tb, err := Build(c)
	if err != nil {
		b.Fatal(err)
	}
	n := New(Hooks{})
	n.Install(tb)
	return n.NewWorker(nullOut{})
}

func pps(b *testing.B) { b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s") }

// BenchmarkSFNodeForward: an SF node receives NSH, checks loops, invokes
// its pass-through SF, lowers SI and picks the next locator.
func BenchmarkSFNodeForward(b *testing.B) {
	w := benchNode(b, sfCfg("fw"))
	in := nshPacket(10, 255, 63)
	buf, off := inBuf(in)
	b.ReportAllocs()
	for b.Loop() {
		buf[off+7], buf[off+1] = 255, buf[off+1]|0xc0 // SI 255 and TTL back up
		w.FromDomain(buf, off, locB)
	}
	pps(b)
}

// BenchmarkBoundaryPush: classify (2 rules) and push NSH.
func BenchmarkBoundaryPush(b *testing.B) {
	w := benchNode(b, boundaryCfg())
	web := udp4("198.51.100.7", "192.0.2.10", 0, 4000, 80, 100)
	buf, off := inBuf(web)
	b.ReportAllocs()
	for b.Loop() {
		w.FromOutside(buf, off)
	}
	pps(b)
}

// BenchmarkBoundaryPop: the egress boundary removes NSH at the end of a map.
func BenchmarkBoundaryPop(b *testing.B) {
	w := benchNode(b, boundaryCfg())
	in := nshPacket(10, 253, 63)
	buf, off := inBuf(in)
	b.ReportAllocs()
	for b.Loop() {
		buf[off+1] |= 0xc0
		w.FromDomain(buf, off, locD)
	}
	pps(b)
}

func FuzzFromDomain(f *testing.F) {
	f.Add(nshPacket(10, 255, 10))
	f.Add(nshPacket(10, 254, 1))
	f.Add([]byte{0x00, 0xc3, 0x02, 0x01, 0, 0, 10, 255, 0, 1, 2, 4, 1, 2, 3, 4})
	tb, _ := Build(sfCfg("fw"))
	n := New(Hooks{})
	n.Install(tb)
	w := n.NewWorker(nullOut{})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		b, off := inBuf(pkt)
		w.FromDomain(b, off, locB)
		b, off = inBuf(pkt)
		w.FromOutsideNSH(b, off)
		b, off = inBuf(pkt)
		w.FromLegacy(b, off)
	})
}

// On a boundary, NSH from an address outside the domain is stripped and
// classified afresh; from a member it is processed as domain traffic.
func TestFromNetworkOutsideOrDomain(t *testing.T) {
	n, w, r := mustNode(t, boundaryCfg())
	b, off := inBuf(nshPacket(20, 255, 63))
	w.FromNetwork(b, off, addr("203.0.113.9"))
	if h, _ := decode(t, one(t, r, "nsh").pkt); h.SPI != 10 || n.Counters().StrippedExternal != 1 {
		t.Fatalf("outside NSH: %+v", h)
	}
	b, off = inBuf(nshPacket(10, 253, 63))
	w.FromNetwork(b, off, locD)
	one(t, r, "route")
}

// Fragments go through the proxy and come back on their map: every
// fragment of a packet hashes alike, so its NSH is found.
func TestFragmentsThroughProxy(t *testing.T) {
	c := boundaryCfg()
	c.SFNode, c.LocalSF, c.LocalKind, c.MaxNSHPacket = true, "fw", Proxy, 200
	c.Maps = append(c.Maps, Map{Index: 30, SFs: []string{"fw", "dpi"}, Egress: locB})
	c.Rules = append(c.Rules, classify.Rule{Name: "a-first", Priority: 1, HasProto: true, Proto: 17, DstPort: classify.PortRange{Set: true, Lo: 80, Hi: 80}, MapIndex: 30})
	n, w, r := mustNode(t, c)
	b, off := inBuf(udp4("198.51.100.7", "192.0.2.10", 0, 4000, 80, 500))
	w.FromOutside(b, off)
	frags := r.take()
	if len(frags) < 3 {
		t.Fatalf("%+v", frags)
	}
	for _, f := range frags {
		if f.kind != "legacy" {
			t.Fatalf("fragment not handed to the legacy SF: %+v", f)
		}
		b, off = inBuf(f.pkt)
		w.FromLegacy(b, off) // the fw SF is on two maps: no fallback
		s := one(t, r, "nsh")
		if h, _ := decode(t, s.pkt); h.SPI != 30 || h.SI != 254 || s.to != locD {
			t.Fatalf("fragment back on %d/%d to %v", h.SPI, h.SI, s.to)
		}
	}
	if n.Counters().Drops[DropProxyMiss] != 0 {
		t.Fatal("proxy missed a fragment")
	}
}
