package bfd

import (
	"strconv"
	"testing"
	"time"
)

// nullSender discards packets.
type nullSender struct{}

func (nullSender) Send(PathKey, []byte) error { return nil }

// steadyPair returns an engine with one Up session and a valid packet from
// its peer.
func steadyPair(tb testing.TB, auth AuthConfig) (*Engine, []Inbound, *ManualClock) {
	ca := baseConfig(addrA, addrB, 100_000, 100_000, 3)
	cb := baseConfig(addrB, addrA, 100_000, 100_000, 3)
	ca.Auth, cb.Auth = auth, auth
	p := newPair(tb.(*testing.T), ca, cb)
	p.mustComeUp()
	p.step(time.Second)
	var pkt []byte
	p.ba.drop = func(_ int, b []byte) bool { pkt = append(pkt[:0], b...); return false }
	p.step(200 * time.Millisecond)
	return p.a, []Inbound{{Data: pkt, Path: p.ba.path, TTL: 255}}, p.clock
}

// TestSteadyStateNoAllocs: receiving a packet of an Up session and sending
// periodic packets allocate nothing.
func TestSteadyStateNoAllocs(t *testing.T) {
	for _, auth := range []AuthConfig{{}, {Type: AuthKeyedSHA1, TxKeyID: 1, Keys: []Key{{ID: 1, Secret: []byte("k")}}}} {
		e, in, clk := steadyPair(t, auth)
		// A replayed keyed (not meticulous) packet is accepted: same
		// sequence number, so the loop keeps exercising the full path.
		before, _ := e.Session(firstDiscr(e))
		if n := testing.AllocsPerRun(200, func() { e.Receive(in) }); n != 0 {
			t.Errorf("auth %v: Receive allocates %v per packet", auth.Type, n)
		}
		after, _ := e.Session(firstDiscr(e))
		if after.Counters.RxPackets-before.Counters.RxPackets < 200 {
			t.Fatalf("auth %v: packets not accepted: %+v", auth.Type, after.Counters)
		}
		if n := testing.AllocsPerRun(200, func() { clk.Advance(10 * time.Millisecond); e.Advance() }); n != 0 {
			t.Errorf("auth %v: timers allocate %v per round", auth.Type, n)
		}
	}
}

// BenchmarkReceive is the engine's cost per received packet of an Up
// session (decode, demultiplex, state machine, timer update).
func BenchmarkReceive(b *testing.B) {
	t := &testing.T{}
	e, in, _ := steadyPair(t, AuthConfig{})
	batch := make([]Inbound, 64)
	for i := range batch {
		batch[i] = in[0]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		e.Receive(batch)
	}
}

// BenchmarkTimers100k is the scheduler's cost per transmitted packet with
// 100,000 sessions at 1 s.
func BenchmarkTimers100k(b *testing.B) {
	clk := &ManualClock{T: time.Unix(0, 0)}
	e := NewEngine(Options{Clock: clk, Seed: 1, SpreadFirstPacket: true})
	for i := range 100_000 {
		c := baseConfig(addrA, addrB, 1_000_000, 1_000_000, 3)
		c.Path.Interface = strconv.Itoa(i)
		if _, err := e.AddSession(c, nullSender{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var sent uint64
	for sent < uint64(b.N) {
		clk.Advance(time.Millisecond)
		e.Advance()
		sent += 100 // ~100 sessions due per ms
	}
}

func firstDiscr(e *Engine) uint32 {
	for d := range e.sessions {
		return d
	}
	return 0
}
