package bfd

import (
	"math/rand/v2"
	"testing"
)

// TestTimerHeapOrder: random inserts, moves and removals always leave the
// earliest deadline on top and every index consistent.
func TestTimerHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h timerHeap
	ss := make([]*Session, 500)
	for i := range ss {
		ss[i] = &Session{heapIdx: -1}
	}
	for range 20000 {
		s := ss[rng.IntN(len(ss))]
		if rng.IntN(5) == 0 {
			s.due = 0
		} else {
			s.due = 1 + rng.Int64N(1000)
		}
		h.set(s)
		min := int64(0)
		for i, x := range h {
			if x.heapIdx != i {
				t.Fatalf("index %d holds heapIdx %d", i, x.heapIdx)
			}
			if min == 0 || x.due < min {
				min = x.due
			}
		}
		if len(h) > 0 && h.peek().due != min {
			t.Fatalf("top %d, minimum %d", h.peek().due, min)
		}
		for _, x := range ss {
			if (x.due == 0) != (x.heapIdx < 0) {
				t.Fatalf("session due %d heapIdx %d", x.due, x.heapIdx)
			}
		}
	}
}
