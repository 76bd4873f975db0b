package bfd

import (
	"testing"
	"time"
)

func TestStabilityReceiverCounts(t *testing.T) {
	var r stabilityRx
	feed := func(seqs ...uint32) {
		for _, s := range seqs {
			r.observe(&Auth{Type: AuthNull, Seq: s}, 1_000_000)
		}
	}
	feed(0, 1, 2, 3, 5, 6) // 4 lost
	if r.Lost != 1 || r.Duplicate != 0 || r.OutOfOrder != 0 || r.Resets != 1 {
		t.Fatalf("after gap: %+v", r.StabilityStats)
	}
	feed(4) // late: reordered, no longer lost
	if r.Lost != 0 || r.OutOfOrder != 1 {
		t.Fatalf("after late 4: %+v", r.StabilityStats)
	}
	feed(6, 4) // duplicates, also of the late one
	if r.Duplicate != 2 || r.OutOfOrder != 1 {
		t.Fatalf("after duplicates: %+v", r.StabilityStats)
	}
	feed(0, 100, 101) // reset: no loss counted across it
	if r.Lost != 0 || r.Resets != 2 {
		t.Fatalf("after reset: %+v", r.StabilityStats)
	}
	// Wrap: 0xfffffffe, 0xffffffff, then 1 (0 is skipped) is no loss;
	// then 3 loses one.
	r = stabilityRx{}
	feed(0xfffffffe, 0xffffffff, 1, 3)
	if r.Lost != 1 || r.OutOfOrder != 0 {
		t.Fatalf("across the wrap: %+v", r.StabilityStats)
	}
	feed(2)
	if r.Lost != 0 || r.OutOfOrder != 1 {
		t.Fatalf("late across the wrap: %+v", r.StabilityStats)
	}
}

func TestStabilityDelays(t *testing.T) {
	var r stabilityRx
	ts := []uint32{1000, 101_000, 191_000, 301_000}
	for i, x := range ts {
		r.observe(&Auth{Type: AuthNull, KeyID: NullAuthLossAndDelay, Seq: uint32(i + 1), Timestamp: x}, 100_000)
	}
	s := r.StabilityStats
	if s.DelayLast != 110_000 || s.DelayMin != 90_000 || s.DelayMax != 110_000 || s.DelayAvg != 100_000 || s.IntervalDeviationMax != 10_000 {
		t.Fatalf("%+v", s)
	}
	// A gap in sequence numbers is not a delay sample.
	r.observe(&Auth{Type: AuthNull, KeyID: NullAuthLossAndDelay, Seq: 6, Timestamp: 900_000}, 100_000)
	if r.DelayMax != 110_000 || r.Lost != 1 {
		t.Fatalf("non-consecutive sample used: %+v", r.StabilityStats)
	}
}

// TestStabilityBetweenEngines: both ends send the section; every 7th packet
// from a is dropped; b reports exactly that many lost.
func TestStabilityBetweenEngines(t *testing.T) {
	for _, delay := range []bool{false, true} {
		ca := baseConfig(addrA, addrB, 100_000, 100_000, 3)
		cb := baseConfig(addrB, addrA, 100_000, 100_000, 3)
		ca.Stability = StabilityConfig{Enabled: true, Delay: delay}
		cb.Stability = StabilityConfig{Enabled: true, Delay: delay, AuthType: 6}
		p := newPair(t, ca, cb)
		dropped := 0
		p.ab.drop = func(n int, _ []byte) bool {
			if n%7 == 0 {
				dropped++
				return true
			}
			return false
		}
		p.mustComeUp()
		p.step(10 * time.Second)
		p.ab.drop = nil
		p.step(time.Second)
		b := p.infoB()
		if b.Stability.Lost != uint64(dropped) || b.Stability.Duplicate != 0 || b.Stability.OutOfOrder != 0 {
			t.Fatalf("delay %v: lost %d, dropped %d: %+v", delay, b.Stability.Lost, dropped, b.Stability)
		}
		if b.DownCount != 0 || b.Counters.RxAuthFailures != 0 {
			t.Fatalf("flap or failures: %+v", b)
		}
		if delay {
			// Finals answering Polls go out between periodic packets,
			// so the minimum may be short; periodic gaps are 75-100 ms.
			if st := b.Stability; st.DelayMin == 0 || st.DelayMax > 101_000 || st.DelayAvg < 75_000 || st.DelayLast < 75_000 {
				t.Fatalf("delays %+v", b.Stability)
			}
		} else if b.Stability.DelayMax != 0 {
			t.Fatal("delay measured without timestamps")
		}
		if a := p.infoA(); a.StabilityTxSeq == 0 || a.Stability.Lost != 0 {
			t.Fatalf("a: %+v", a.Stability)
		}
	}
}
