package bindingtable

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

const million = 1 << 20

func millionSoftwires() []Softwire {
	sws := make([]Softwire, million)
	for i := range sws {
		sws[i] = Softwire{IPv4: 0x64400000 + uint32(i/64), PSID: uint16(i % 64), PortSet: PortSet{Length: 6},
			B4: [16]byte{0x20, 0x01, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)}, BR: [16]byte{1}}
	}
	return sws
}

// BenchmarkLoad1M is the time to load 1M bindings into an empty table
// (growing as it goes), and the memory they take.
func BenchmarkLoad1M(b *testing.B) {
	sws := millionSoftwires()
	var tb *Table
	for i := 0; i < b.N; i++ {
		tb = New(0)
		for _, sw := range sws {
			if err := tb.Add(sw); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
	b.ReportMetric(float64(tb.Bytes())/float64(tb.Len()), "bytes/binding")
}

// millionTableAndKeys loads the 1M-binding table and picks 64Ki random
// (IPv4, port) keys that hit it.
func millionTableAndKeys(b *testing.B) (*Table, [][2]uint32) {
	b.Helper()
	tb := New(million)
	for _, sw := range millionSoftwires() {
		if err := tb.Add(sw); err != nil {
			b.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	keys := make([][2]uint32, 1<<16)
	for i := range keys {
		sw := r.IntN(million)
		keys[i] = [2]uint32{0x64400000 + uint32(sw/64), uint32(sw%64)<<10 | 7}
	}
	return tb, keys
}

// BenchmarkLookup is lookups by (IPv4, port) at random among 1M bindings.
func BenchmarkLookup(b *testing.B) {
	tb, keys := millionTableAndKeys(b)
	b.ResetTimer()
	found := 0
	for i := 0; i < b.N; i++ {
		k := keys[i&(len(keys)-1)]
		if _, _, ok := tb.Lookup(k[0], uint16(k[1])); ok {
			found++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	if found != b.N {
		b.Fatalf("%d of %d found", found, b.N)
	}
}

// TestHeapPerBinding measures the heap a table of 1M bindings holds, as a
// check on Bytes (the figure the benchmark reports).
func TestHeapPerBinding(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	sws := millionSoftwires()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	tb := New(len(sws))
	for _, sw := range sws {
		if err := tb.Add(sw); err != nil {
			t.Fatal(err)
		}
	}
	load := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	mapped := 0
	for _, m := range tb.mem.maps {
		mapped += len(m)
	}
	per := float64(after.HeapAlloc-before.HeapAlloc+uint64(mapped)) / float64(tb.Len())
	t.Logf("1M bindings: %.1f bytes/binding (heap plus %d MB of huge-page mappings), Bytes() %.1f, presized load %v",
		per, mapped>>20, float64(tb.Bytes())/float64(tb.Len()), load)
	if per > 64 {
		t.Fatalf("%.1f bytes per binding, want at most 64", per)
	}
	runtime.KeepAlive(tb)
	runtime.KeepAlive(sws)
}
