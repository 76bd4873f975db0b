package lwaftr

import (
	"math/rand/v2"
	"testing"
)

const benchBindings = 1 << 20

// benchFrames builds frames for random softwires among benchBindings so
// lookups miss the cache as they would with real traffic.
func benchFrames(n int, decap bool) [][]byte {
	r := rand.New(rand.NewPCG(7, 7))
	fs := make([][]byte, n)
	for i := range fs {
		sw := r.IntN(benchBindings)
		addr := uint32(0x64400000 + sw/64)
		if decap {
			fs[i] = ipv6Encap(ipv4TCP(addr, tInet, portOf(sw), 80, 64), b4Addr(uint32(sw)), brAddr())
		} else {
			fs[i] = ipv4TCP(tInet, addr, 80, portOf(sw), 64)
		}
	}
	return fs
}

func benchForward(b *testing.B, decap bool) {
	d := &discard{}
	e := newTestEngine(b, testConfig(), benchBindings, d)
	fs := benchFrames(1<<16, decap)
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	if d.n[0]+d.n[1] != b.N {
		b.Fatalf("%d of %d packets forwarded", d.n[0]+d.n[1], b.N)
	}
}

// BenchmarkEncap is IPv4 from the Internet to B4s, 1M bindings, one core.
func BenchmarkEncap(b *testing.B) { benchForward(b, false) }

// BenchmarkDecap is IPv4-in-IPv6 from B4s with the binding check, 1M
// bindings, one core.
func BenchmarkDecap(b *testing.B) { benchForward(b, true) }

// BenchmarkEncapOneByOne is BenchmarkEncap without batching, to show
// what ReceiveBatch's prefetching buys.
func BenchmarkEncapOneByOne(b *testing.B) {
	d := &discard{}
	e := newTestEngine(b, testConfig(), benchBindings, d)
	fs := benchFrames(1<<16, false)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Receive(External, fs[i&(len(fs)-1)])
		if i&63 == 63 {
			e.Flush()
		}
	}
	e.Flush()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
