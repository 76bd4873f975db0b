package bindingtable

import (
	"testing"
)

// BenchmarkLookupBatch is BenchmarkLookup done 64 keys at a time with
// Home and Touch first, as the data plane's ReceiveBatch does.
func BenchmarkLookupBatch(b *testing.B) {
	tb, keys := millionTableAndKeys(b)
	var homes [64]uint32
	var acc uint32
	found := 0
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		j := i & (len(keys) - 1)
		batch := keys[j : j+64]
		for k, key := range batch {
			homes[k] = tb.Home(key[0], uint16(key[1]))
		}
		for _, h := range homes {
			acc += tb.Touch(h)
		}
		for _, key := range batch {
			if _, _, ok := tb.Lookup(key[0], uint16(key[1])); ok {
				found++
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	touchSink = acc
}

var touchSink uint32
