package lwaftr

import (
	"math/rand/v2"
	"testing"
)

// distinctFrames builds 64Ki frames whose destinations (encap) or
// sources (decap) are `distinct` softwires drawn at random from the 1M
// of benchBindings, so the working set of the binding table is what a
// busy lwAFTR sees, not the whole table and not one entry.
func distinctFrames(distinct int, decap bool) [][]byte {
	r := rand.New(rand.NewPCG(11, uint64(distinct)))
	pick := make([]int, distinct)
	for i := range pick {
		pick[i] = r.IntN(benchBindings)
	}
	fs := make([][]byte, 1<<16)
	for i := range fs {
		sw := pick[r.IntN(distinct)]
		addr := uint32(0x64400000 + sw/64)
		if decap {
			fs[i] = ipv6Encap(ipv4TCP(addr, tInet, portOf(sw), 80, 64), b4Addr(uint32(sw)), brAddr())
		} else {
			fs[i] = ipv4TCP(tInet, addr, 80, portOf(sw), 64)
		}
	}
	return fs
}

func benchDistinct(b *testing.B, distinct int, decap bool) {
	d := &discard{}
	e := newTestEngine(b, testConfig(), benchBindings, d)
	fs := distinctFrames(distinct, decap)
	side := External
	if decap {
		side = Internal
	}
	b.ReportAllocs()
	b.ResetTimer()
	const batch = 64
	for i := 0; i < b.N; i += batch {
		j := i & (len(fs) - 1)
		n := min(batch, b.N-i)
		e.ReceiveBatch(side, fs[j:j+n])
		e.Flush()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
	if d.n[0]+d.n[1] != b.N {
		b.Fatalf("%d of %d packets forwarded", d.n[0]+d.n[1], b.N)
	}
}

// BenchmarkEncap16k and the others: 1M bindings, one core, 64-byte
// frames (54 bytes of headers IPv4, 94 encapsulated), 16Ki or 64Ki
// distinct softwires.
func BenchmarkEncap16k(b *testing.B) { benchDistinct(b, 16<<10, false) }
func BenchmarkDecap16k(b *testing.B) { benchDistinct(b, 16<<10, true) }
func BenchmarkEncap64k(b *testing.B) { benchDistinct(b, 64<<10, false) }
func BenchmarkDecap64k(b *testing.B) { benchDistinct(b, 64<<10, true) }

// benchWorkers runs workers engines, each on its own goroutine (a core
// each), over one shared read-only table: the multi-core scaling.
func benchWorkers(b *testing.B, workers int, decap bool) {
	bt, err := NewTable(testBindings(benchBindings))
	if err != nil {
		b.Fatal(err)
	}
	fs := distinctFrames(64<<10, decap)
	side := External
	if decap {
		side = Internal
	}
	engines := make([]*Engine, workers)
	sinks := make([]*discard, workers)
	for i := range engines {
		sinks[i] = &discard{}
		if engines[i], err = New(testConfig(), bt, sinks[i]); err != nil {
			b.Fatal(err)
		}
		engines[i].SetSharedTable(bt)
	}
	b.ReportAllocs()
	b.ResetTimer()
	per := b.N / workers
	done := make(chan struct{})
	for w := range workers {
		go func() {
			e := engines[w]
			for i := 0; i < per; i += 64 {
				j := (i + w*4096) & (len(fs) - 1)
				e.ReceiveBatch(side, fs[j:j+min(64, per-i)])
				e.Flush()
			}
			done <- struct{}{}
		}()
	}
	for range workers {
		<-done
	}
	b.ReportMetric(float64(per*workers)/b.Elapsed().Seconds()/1e6, "Mpps")
}

// BenchmarkEncap64kWorkers1/2: the same work on one and on two cores.
func BenchmarkEncap64kWorkers1(b *testing.B) { benchWorkers(b, 1, false) }
func BenchmarkEncap64kWorkers2(b *testing.B) { benchWorkers(b, 2, false) }
func BenchmarkDecap64kWorkers1(b *testing.B) { benchWorkers(b, 1, true) }
func BenchmarkDecap64kWorkers2(b *testing.B) { benchWorkers(b, 2, true) }
