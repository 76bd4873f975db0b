package lwaftr

import "testing"

// TestUseMarks: the engine marks the binding of every packet it forwards,
// in either direction, and nothing for a packet it drops; a new seed
// moves the bits.
func TestUseMarks(t *testing.T) {
	bt, err := NewTable(testBindings(256))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(testConfig(), bt, &discard{})
	if err != nil {
		t.Fatal(err)
	}
	u := NewUseMarks(1 << 16)
	e.SetUseMarks(u)
	out, in, idle := 5, 70, 130
	addr := func(i int) uint32 { return 0x64400000 + uint32(i/64) }
	// B4 out to the Internet: decapsulated.
	e.Receive(Internal, ipv6Encap(ipv4TCP(addr(out), tInet, portOf(out), 80, 64), b4Addr(uint32(out)), brAddr()))
	// Internet in to a B4: encapsulated.
	e.Receive(External, ipv4TCP(tInet, addr(in), 80, portOf(in), 64))
	// A spoofed source: dropped, not marked.
	spoof := b4Addr(999)
	e.Receive(Internal, ipv6Encap(ipv4TCP(addr(idle), tInet, portOf(idle), 80, 64), spoof, brAddr()))
	e.Flush()
	if e.C.DecapPackets != 1 || e.C.EncapPackets != 1 {
		t.Fatalf("decap %d encap %d", e.C.DecapPackets, e.C.EncapPackets)
	}
	for _, c := range []struct {
		i    int
		b4   [16]byte
		want bool
	}{{out, b4Addr(uint32(out)), true}, {in, b4Addr(uint32(in)), true}, {idle, b4Addr(uint32(idle)), false}, {idle, spoof, false}} {
		if got := u.Has(&c.b4, addr(c.i)); got != c.want {
			t.Errorf("binding %d: marked %v, want %v", c.i, got, c.want)
		}
	}
	u.Clear()
	u.Seed = 42
	b := b4Addr(uint32(out))
	if u.Has(&b, addr(out)) {
		t.Error("marked after Clear")
	}
	u.Mark(&b, addr(out))
	if !u.Has(&b, addr(out)) {
		t.Error("Mark then Has: false")
	}
}
