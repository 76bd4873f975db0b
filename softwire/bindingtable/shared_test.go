package bindingtable

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSharedReadersSeeWholeChanges: readers look up while the writer
// adds and removes softwires and the table grows; every lookup sees a
// softwire either absent or whole (its B4 encodes its key), never the
// middle of a change, and after the writer's last change every reader
// sees the final table. Run with -race, it also checks the protocol
// gives the memory model's happens-before for both copies.
func TestSharedReadersSeeWholeChanges(t *testing.T) {
	for _, readers := range []int{1, 3} {
		start := time.Now()
		sh := NewShared(New(0), readers)
		var stop atomic.Bool
		var wg sync.WaitGroup
		var lookups atomic.Int64
		b4Of := func(ip uint32) [16]byte { return [16]byte{byte(ip), byte(ip >> 8), byte(ip >> 16), 15: 0xb4} }
		for i := range readers {
			wg.Add(1)
			go func(r *Reader) {
				defer wg.Done()
				for n := uint32(0); !stop.Load(); n++ {
					tb := r.Enter()
					for k := range uint32(64) {
						ip := (n*64 + k) % 5000
						if b4, _, ok := tb.Lookup(ip, 0); ok && *b4 != b4Of(ip) {
							t.Errorf("reader saw softwire %d with B4 % x", ip, b4[:])
						}
					}
					r.Leave()
					lookups.Add(64)
					// A worker waits for its next batch between two;
					// with more readers than cores a busy loop would
					// leave the writer's wait to preemption.
					runtime.Gosched()
				}
			}(sh.Reader(i))
		}
		for round := range 4 {
			for ip := uint32(0); ip < 5000; ip += 100 {
				err := sh.Update(func(tb *Table) error {
					for k := ip; k < ip+100; k++ {
						if round%2 == 0 {
							if err := tb.Add(Softwire{IPv4: k, B4: b4Of(k), BR: [16]byte{1}}); err != nil {
								return err
							}
						} else if k%3 == 0 {
							tb.Remove(k, 0)
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		for sh.tabs[0].Growing() {
			_ = sh.Update(func(tb *Table) error { tb.Migrate(1000); return nil })
		}
		stop.Store(true)
		wg.Wait()
		for i := range readers {
			tb := sh.Reader(i).Enter()
			for ip := uint32(0); ip < 5000; ip++ {
				_, _, ok := tb.Lookup(ip, 0)
				if want := ip%3 != 0; ok != want {
					t.Fatalf("%d readers: reader %d: softwire %d present=%v, want %v", readers, i, ip, ok, want)
				}
			}
			sh.Reader(i).Leave()
		}
		if readers > 1 && sh.tabs[0].Len() != sh.tabs[1].Len() {
			t.Fatalf("copies differ: %d and %d", sh.tabs[0].Len(), sh.tabs[1].Len())
		}
		t.Logf("%d readers: %d lookups during the changes, %v", readers, lookups.Load(), time.Since(start))
	}
}
