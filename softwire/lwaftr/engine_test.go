package lwaftr

import (
	"github.com/wirebeat/wirebeat/softwire/netpkt"

	"encoding/binary"
	"reflect"
	"testing"
	"time"
)

func newTestEngine(t testing.TB, cfg Config, n int, s Sender) *Engine {
	bt, err := NewTable(testBindings(n))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, bt, s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEncapDecapRoundTrip(t *testing.T) {
	var c captured
	e := newTestEngine(t, testConfig(), 1000, &c)
	in := ipv4TCP(tInet, 0x64400000+3, 80, portOf(3*64+5), 64)
	e.Receive(External, in)
	e.Flush()
	if len(c.frames[Internal]) != 1 {
		t.Fatalf("encap: %d frames inside", len(c.frames[Internal]))
	}
	out := c.frames[Internal][0]
	want := b4Addr(3*64 + 5)
	if string(out[14+24:14+40]) != string(want[:]) || out[14+6] != 4 || out[14+7] != 255 {
		t.Fatalf("encap header wrong: % x", out[:54])
	}
	if out[54+8] != 63 || netpkt.Checksum(out[54:74]) != 0 {
		t.Fatalf("TTL %d or IPv4 checksum wrong after encap", out[54+8])
	}
	// The B4's answer goes out decapsulated, TTL untouched.
	reply := ipv4TCP(0x64400000+3, tInet, portOf(3*64+5), 80, 64)
	e.Receive(Internal, ipv6Encap(reply, want, brAddr()))
	// A B4 using another's port set is refused (RFC 7596 §5.1).
	e.Receive(Internal, ipv6Encap(reply, b4Addr(7), brAddr()))
	e.Flush()
	if len(c.frames[External]) != 1 {
		t.Fatalf("decap: %d frames outside, want 1", len(c.frames[External]))
	}
	if got := c.frames[External][0][14:]; string(got) != string(reply[14:]) {
		t.Fatalf("decap changed the packet:\n% x\n% x", got, reply[14:])
	}
	if e.C.DropNoBinding6 != 1 {
		t.Fatalf("spoofed source not counted: %+v", e.C)
	}
}

// TestBindingChangesBetweenBatches adds and removes a softwire while the
// engine runs: the next packet sees the change, nothing else moves.
func TestBindingChangesBetweenBatches(t *testing.T) {
	var c captured
	e := newTestEngine(t, testConfig(), 64, &c)
	dst := uint32(0x64400000 + 7)
	pkt := ipv4TCP(tInet, dst, 80, 1000, 64)
	e.Receive(External, pkt)
	e.Flush()
	if len(c.frames[Internal]) != 0 {
		t.Fatal("unbound address was encapsulated")
	}
	if err := e.AddBinding(Binding{IPv4: dst, PSID: 0, PortSet: testBindings(1)[0].PortSet, B4: b4Addr(99), BR: brAddr()}); err != nil {
		t.Fatal(err)
	}
	e.Receive(External, pkt)
	e.Flush()
	if len(c.frames[Internal]) != 1 {
		t.Fatal("added binding not used")
	}
	if !e.RemoveBinding(dst, 0) {
		t.Fatal("remove failed")
	}
	e.Receive(External, pkt)
	e.Flush()
	if len(c.frames[Internal]) != 1 || e.Table().Len() != 64 {
		t.Fatalf("removed binding still used (%d frames, %d softwires)", len(c.frames[Internal]), e.Table().Len())
	}
}

// TestICMPErrorRateLimit: at most ErrorRatePackets errors per period.
func TestICMPErrorRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.External.ErrorRatePackets, cfg.External.ErrorRatePeriod = 2, 1
	var c captured
	e := newTestEngine(t, cfg, 64, &c)
	clk := &fakeClock{t: time.Unix(1000, 0)}
	e.SetClock(clk.now)
	unbound := ipv4TCP(tInet, 0x0a000001, 80, 1000, 64)
	for range 5 {
		e.Receive(External, unbound)
	}
	e.Flush()
	if len(c.frames[External]) != 2 || e.C.ICMPRateLimited[External] != 3 {
		t.Fatalf("%d errors sent, %d limited; want 2 and 3", len(c.frames[External]), e.C.ICMPRateLimited[External])
	}
	if m := c.frames[External][0][14+20:]; m[0] != 3 || m[1] != 1 {
		t.Fatalf("error type %d code %d, want 3/1", m[0], m[1])
	}
	clk.t = clk.t.Add(time.Second)
	e.Receive(External, unbound)
	e.Flush()
	if len(c.frames[External]) != 3 {
		t.Fatal("limit not refilled after a period")
	}
}

func TestVLANMismatchDropped(t *testing.T) {
	cfg := testConfig()
	cfg.External.VLAN = 100
	var c captured
	e := newTestEngine(t, cfg, 64, &c)
	e.Receive(External, ipv4TCP(tInet, 0x64400000, 80, 1000, 64)) // untagged
	tagged := ipv4TCP(tInet, 0x64400000, 80, 1000, 64)
	tagged = append(tagged[:12:12], append([]byte{0x81, 0, 0, 101}, tagged[12:]...)...)
	e.Receive(External, tagged) // wrong tag
	e.Flush()
	if len(c.frames[Internal]) != 0 || e.C.DropBadVLAN[External] != 2 {
		t.Fatalf("frames with a foreign VLAN were forwarded: %+v", e.C)
	}
	binary.BigEndian.PutUint16(tagged[14:], 100)
	e.Receive(External, tagged)
	e.Flush()
	if len(c.frames[Internal]) != 1 {
		t.Fatal("frame with our VLAN not forwarded")
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := testConfig()
	cfg.Internal.NextHopMACSet = false
	if err := cfg.Validate(); err == nil {
		t.Fatal("next hop without mac or ip accepted")
	}
	cfg = testConfig()
	cfg.External.IngressFilter = "bogus"
	if err := cfg.Validate(); err == nil {
		t.Fatal("bad filter accepted")
	}
	cfg = testConfig()
	cfg.Internal.MTU = 1000
	if err := cfg.Validate(); err == nil {
		t.Fatal("IPv6 MTU below 1280 accepted")
	}
}

// TestNoAllocsPerPacket: the forwarding paths do not allocate.
func TestNoAllocsPerPacket(t *testing.T) {
	d := &discard{}
	e := newTestEngine(t, testConfig(), 4096, d)
	enc := ipv4TCP(tInet, 0x64400000+3, 80, portOf(3*64+5), 64)
	dec := ipv6Encap(ipv4TCP(0x64400000+3, tInet, portOf(3*64+5), 80, 64), b4Addr(3*64+5), brAddr())
	hair := ipv6Encap(ipv4TCP(0x64400000+3, 0x64400000+4, portOf(3*64+5), portOf(4*64+1), 64), b4Addr(3*64+5), brAddr())
	allocs := testing.AllocsPerRun(1000, func() {
		e.Receive(External, enc)
		e.Receive(Internal, dec)
		e.Receive(Internal, hair)
		e.Flush()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch", allocs)
	}
	if d.n[External] == 0 || d.n[Internal] == 0 || e.C.HairpinPackets == 0 {
		t.Fatalf("nothing forwarded: %v %+v", d.n, e.C)
	}
}

// TestReassemblyExpiry: a fragment older than the reassembly timeout is
// not joined with a later one.
func TestReassemblyExpiry(t *testing.T) {
	var c captured
	e := newTestEngine(t, testConfig(), 64, &c)
	clk := &fakeClock{t: time.Unix(1000, 0)}
	e.SetClock(clk.now)
	whole := ipv4TCP(tInet, 0x64400000, 80, portOf(0), 64)
	// Split the 20-byte TCP header into two fragments of 8 and 12 bytes.
	frag := func(off, n int, more bool) []byte {
		f := append([]byte(nil), whole[:34]...)
		f = append(f, whole[34+off:34+off+n]...)
		h := f[14:]
		binary.BigEndian.PutUint16(h[2:], uint16(20+n))
		binary.BigEndian.PutUint16(h[4:], 77)
		fo := uint16(off / 8)
		if more {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(h[6:], fo)
		netpkt.SetIPv4Checksum(h[:20])
		return f
	}
	e.Receive(External, frag(0, 8, true))
	clk.t = clk.t.Add(6 * time.Second)
	e.Receive(External, frag(8, 12, false))
	e.Flush()
	if len(c.frames[Internal]) != 0 {
		t.Fatal("stale fragment was reassembled")
	}
	e.Receive(External, frag(0, 8, true))
	e.Flush()
	if len(c.frames[Internal]) != 1 {
		t.Fatalf("fresh fragments not reassembled: %+v", e.C)
	}
}

// TestCountersAdd: Counters.Add relies on every field being uint64 or an
// array of uint64; this fails when a field of another type is added.
func TestCountersAdd(t *testing.T) {
	ty := reflect.TypeOf(Counters{})
	for i := range ty.NumField() {
		f := ty.Field(i)
		k := f.Type
		if k.Kind() == reflect.Array {
			k = k.Elem()
		}
		if k.Kind() != reflect.Uint64 {
			t.Fatalf("Counters.%s is %s: Counters.Add needs uint64 fields", f.Name, f.Type)
		}
	}
	var a, b Counters
	a.InFrames[1], a.EncapPackets, a.NAReplies = 1, 2, 3
	b.InFrames[1], b.EncapPackets, b.NAReplies, b.DropTooBig = 10, 20, 30, 5
	a.Add(&b)
	if a.InFrames[1] != 11 || a.EncapPackets != 22 || a.NAReplies != 33 || a.DropTooBig != 5 {
		t.Fatalf("%+v", a)
	}
}
