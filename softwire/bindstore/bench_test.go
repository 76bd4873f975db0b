package bindstore

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wirebeat/wirebeat/tools/etcdtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fill writes n bindings (one address each, psid-length 0) in
// transactions of 128 puts, etcd's default limit per transaction.
func fill(tb testing.TB, c *etcdtest.Cluster, n int) {
	tb.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	ops := make([]clientv3.Op, 0, 128)
	for i := range n {
		b := mustB("10.0.0.0", 0, 0, 0, "2001:db8::", "2001:db8:ffff::1")
		b.IPv4 += uint32(i)
		b.B4[12], b.B4[13], b.B4[14], b.B4[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		ops = append(ops, clientv3.OpPut(Key(DefaultPrefix, b.IPv4, 0), string(Encode(b))))
		if len(ops) == cap(ops) || i == n-1 {
			if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
				tb.Fatal(err)
			}
			ops = ops[:0]
		}
	}
}

func percentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	if len(d) == 0 {
		return
	}
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkValidateCacheHit: validation of a known B4, a local lookup.
func BenchmarkValidateCacheHit(b *testing.B) {
	c := etcdtest.Start(b, 1)
	fill(b, c, 10000)
	s, err := Open(Config{Endpoints: c.Endpoints(), Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.WaitSynced(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	lat := make([]time.Duration, 0, min(b.N, 1<<20))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % 10000
		var b4 [16]byte
		b4[0], b4[1], b4[2], b4[3] = 0x20, 0x01, 0x0d, 0xb8
		b4[12], b4[13], b4[14], b4[15] = byte(j>>24), byte(j>>16), byte(j>>8), byte(j)
		t0 := time.Now()
		_, r, err := s.Validate(ctx, b4, 0x0a000000+uint32(j), 1234)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
		if err != nil || r != Valid {
			b.Fatalf("%d: %v %v", j, r, err)
		}
	}
	b.StopTimer()
	percentiles(b, lat)
}

// BenchmarkValidateCacheMiss: validation of an address the cache does not
// know, answered by a linearizable read of a 3-member cluster on loopback.
func BenchmarkValidateCacheMiss(b *testing.B) {
	c := etcdtest.Start(b, 3)
	s, err := Open(Config{Endpoints: c.Endpoints(), Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.WaitSynced(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		_, r, err := s.Validate(ctx, [16]byte{1}, 0x0b000000+uint32(i), 1234)
		lat = append(lat, time.Since(t0))
		if err != nil || r != NotFound {
			b.Fatalf("%v %v", r, err)
		}
	}
	b.StopTimer()
	percentiles(b, lat)
}

func benchWarm(b *testing.B, n int) {
	c := etcdtest.Start(b, 1)
	fill(b, c, n)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		s, err := Open(Config{Endpoints: c.Endpoints(), Log: quiet, QueryTimeout: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.WaitSynced(context.Background()); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		if s.Len() != n {
			b.Fatalf("warmed %d of %d", s.Len(), n)
		}
		s.Close()
		b.ReportMetric(d.Seconds(), "warm-s")
		b.ReportMetric(float64(n)/d.Seconds(), "bindings/s")
	}
}

// BenchmarkCacheWarm10k and BenchmarkCacheWarm1M: time for a new lwAFTR
// to load every binding from etcd (setup, writing them, is not timed).
func BenchmarkCacheWarm10k(b *testing.B) { benchWarm(b, 10000) }
func BenchmarkCacheWarm1M(b *testing.B)  { benchWarm(b, 1000000) }

// TestCacheWarmSmall is the warm path in make test, small: 2,000 bindings
// in pages of 300, every one then found.
func TestCacheWarmSmall(t *testing.T) {
	c := etcdtest.Start(t, 1)
	fill(t, c, 2000)
	t0 := time.Now()
	s, err := Open(Config{Endpoints: c.Endpoints(), Log: quiet, LoadPage: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WaitSynced(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("warmed 2000 bindings in %v", time.Since(t0))
	for i := range 2000 {
		if _, ok := s.Lookup(0x0a000000+uint32(i), uint16(i)); !ok {
			t.Fatalf("binding %d missing", i)
		}
	}
}
