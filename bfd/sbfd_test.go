package bfd

import (
	"net/netip"
	"testing"
	"time"
)

// reflectorWire answers an initiator's packets through a Reflector, in
// memory, optionally losing everything.
type reflectorWire struct {
	r     *Reflector
	eng   *Engine
	down  bool
	queue []Inbound
	buf   [MaxLen]byte
}

func (w *reflectorWire) Send(key PathKey, pkt []byte) error {
	if w.down {
		return nil
	}
	if ans, ok := w.r.Reflect(pkt, w.buf[:0], false); ok {
		w.queue = append(w.queue, Inbound{Data: append([]byte(nil), ans...), Path: key, TTL: 255})
	}
	return nil
}

func TestSBFDInitiatorAndReflector(t *testing.T) {
	clk := &ManualClock{T: time.Unix(0, 0)}
	eng := NewEngine(Options{Clock: clk, Seed: 21})
	refl := NewReflector(ReflectorConfig{Discriminators: []uint32{0x1000, 0x2000}})
	w := &reflectorWire{r: refl, eng: eng}
	target := netip.MustParseAddr("192.0.2.9")
	cfg := func(remote uint32, tx uint32) SessionConfig {
		return SessionConfig{Path: PathKey{Kind: PathSBFD, Remote: target}, DesiredMinTxInterval: tx,
			RequiredMinRxInterval: tx, DetectMult: 3, SBFDRemoteDiscr: remote}
	}
	// Two initiators to the same target (REQ 8) and one with a
	// discriminator the reflector does not have.
	d1, err := eng.AddSession(cfg(0x1000, 50_000), w)
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := eng.AddSession(cfg(0x2000, 100_000), w)
	d3, _ := eng.AddSession(cfg(0x3000, 100_000), w)
	step := func(d time.Duration) {
		for end := clk.T.Add(d); clk.T.Before(end); {
			clk.Advance(time.Millisecond)
			eng.Advance()
			for len(w.queue) > 0 {
				q := w.queue
				w.queue = nil
				eng.Receive(q)
			}
		}
	}
	step(3 * time.Second)
	for _, d := range []uint32{d1, d2} {
		if i, _ := eng.Session(d); i.LocalState != StateUp || i.RemoteDiscr == 0 {
			t.Fatalf("initiator %x: %v", d, i.LocalState)
		}
	}
	if i, _ := eng.Session(d3); i.LocalState != StateDown || i.Counters.RxPackets != 0 {
		t.Fatalf("initiator with unknown discriminator: %+v", i)
	}
	if c := refl.Counters(); c.RxUnknownDiscriminator == 0 || c.TxPackets == 0 {
		t.Fatalf("reflector counters %+v", c)
	}
	// REQ 5: intervals change while Up, without leaving Up.
	i1, _ := eng.Session(d1)
	c := i1.Config
	c.DesiredMinTxInterval = 20_000
	if err := eng.UpdateSession(d1, c); err != nil {
		t.Fatal(err)
	}
	step(time.Second)
	if i, _ := eng.Session(d1); i.PollActive || i.NegotiatedTxInterval != 20_000 || i.DownCount != 0 {
		t.Fatalf("after interval change: poll %v tx %d down %d", i.PollActive, i.NegotiatedTxInterval, i.DownCount)
	}
	// Reflector admin down: initiators go Down with diag 3.
	refl.Configure(ReflectorConfig{Discriminators: []uint32{0x1000, 0x2000}, AdminDown: true})
	step(time.Second)
	if i, _ := eng.Session(d1); i.LocalState != StateDown || i.LocalDiag != DiagNeighborSignaledSessionDown {
		t.Fatalf("reflector admin down: %v %v", i.LocalState, i.LocalDiag)
	}
	refl.Configure(ReflectorConfig{Discriminators: []uint32{0x1000, 0x2000}})
	step(3 * time.Second)
	// Reflector gone: Down with diag 1.
	w.down = true
	step(2 * time.Second)
	if i, _ := eng.Session(d1); i.LocalState != StateDown || i.LocalDiag != DiagControlDetectionTimeExpired || i.RemoteDiscr != 0x1000 {
		t.Fatalf("reflector gone: %v %v remote %x", i.LocalState, i.LocalDiag, i.RemoteDiscr)
	}
}

func TestReflectorRefusesLoopsAndGarbage(t *testing.T) {
	r := NewReflector(ReflectorConfig{Discriminators: []uint32{7}})
	p := Packet{State: StateDown, DetectMult: 3, MyDiscriminator: 99, YourDiscriminator: 7, DesiredMinTxInterval: 1, RequiredMinRxInterval: 1, Poll: true}
	b := p.AppendEncode(nil)
	var out [MaxLen]byte
	if _, ok := r.Reflect(b, out[:0], true); ok {
		t.Fatal("answered a packet from another reflector's port")
	}
	if _, ok := r.Reflect(b[:10], out[:0], false); ok {
		t.Fatal("answered garbage")
	}
	ans, ok := r.Reflect(b, out[:0], false)
	if !ok {
		t.Fatal("no answer")
	}
	q := decode(t, ans)
	if q.MyDiscriminator != 7 || q.YourDiscriminator != 99 || q.State != StateUp || !q.Final || q.Poll {
		t.Fatalf("answer %+v", q)
	}
	if n := testing.AllocsPerRun(100, func() { r.Reflect(b, out[:0], false) }); n != 0 {
		t.Fatalf("%v allocations per reflected packet", n)
	}
}
