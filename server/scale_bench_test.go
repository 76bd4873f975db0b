package server

import (
	"fmt"
	"runtime"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/tools/cpumeter"
)

// The figures of issue 10 for make bench: what a commit, a copy to
// startup and a boot cost next to large binding tables, and what they
// write to disk.

var tableSizes = []struct {
	name string
	n    int
}{{"0", 0}, {"100k", 100_000}, {"1M", 1_000_000}}

// datadirWithBindings makes a datadir whose saved configuration holds n
// bindings, written as the journal's snapshot, so that a benchmark does
// not pay a commit of n entries in its setup.
func datadirWithBindings(b testing.TB, n int) string {
	b.Helper()
	dir := b.TempDir()
	st, err := openStore(dir, HistorySize)
	if err != nil {
		b.Fatal(err)
	}
	root := &gen.Device{}
	addBindings(root, n)
	data, err := schema.EncodeJSON(root)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeFileAtomic(st.snapPath(1), data, 0o600); err != nil {
		b.Fatal(err)
	}
	return dir
}

// oneLeafCommit changes the hostname through a transaction, as a NETCONF
// or gNMI edit of one leaf does.
func oneLeafCommit(s *Server, i int) error {
	return s.EditTx(admin, Running, func(tx *schema.Tx) error {
		sys, _, err := tx.Touch(&gpb.Path{Elem: []*gpb.PathElem{{Name: "system"}}}, true)
		if err != nil {
			return err
		}
		sys.(*gen.WirebeatSystem_System).Hostname = ygot.String(fmt.Sprintf("h-%d", i))
		return nil
	})
}

// One-leaf commits next to 0, 100,000 and 1,000,000 bindings: time per
// commit and bytes added to the datadir per commit (the journal record).
func BenchmarkOneLeafCommit(b *testing.B) {
	for _, size := range tableSizes {
		b.Run("bindings="+size.name, func(b *testing.B) {
			dir := datadirWithBindings(b, size.n)
			s, err := New(Options{DataDir: dir, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := oneLeafCommit(s, -1); err != nil { // opens the journal
				b.Fatal(err)
			}
			before := dirBytes(b, dir)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := oneLeafCommit(s, i); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(dirBytes(b, dir)-before)/float64(b.N), "disk-B/commit")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}

// The datadir after 1,000 one-leaf commits next to a million bindings,
// against the size of one copy of the configuration.
func BenchmarkDatadirAfter1000Commits1M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		dir := datadirWithBindings(b, 1_000_000)
		s, err := New(Options{DataDir: dir, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		one := float64(dirBytes(b, dir))
		for c := 0; c < 1000; c++ {
			if err := oneLeafCommit(s, c); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
		size := float64(dirBytes(b, dir))
		b.ReportMetric(size/1e6, "datadir-MB")
		b.ReportMetric(size/one, "x-one-copy")
	}
}

// copy-config running to startup with a million bindings: right after the
// boot, when running is the newest snapshot (startup becomes a link to it),
// and after a one-leaf commit, when the whole tree is encoded (the first
// time with an empty cache of entry texts, then from the cache).
func BenchmarkCopyRunningToStartup1M(b *testing.B) {
	s, err := New(Options{DataDir: datadirWithBindings(b, 1_000_000), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	copyConfig := func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := s.Replace(admin, Startup, s.Running()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("running=snapshot", copyConfig)
	if err := oneLeafCommit(s, 0); err != nil {
		b.Fatal(err)
	}
	b.Run("after-commit", copyConfig)
}

// Boot with a million bindings saved: until New returns, which is when
// the front ends start listening.
func BenchmarkBoot1M(b *testing.B) {
	benchBoot(b, 1_000_000)
}

// benchBoot measures New on a datadir holding n bindings, in wall and CPU
// time. The heap left by the setup is collected first, so that the boot
// does not pay for marking it.
func benchBoot(b *testing.B, n int) {
	dir := datadirWithBindings(b, n)
	var cpu cpumeter.Meter
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cpu.Begin()
		s, err := New(Options{DataDir: dir, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		cpu.End()
		b.StopTimer()
		s.Close()
		runtime.GC()
		b.StartTimer()
	}
	cpu.Report(b)
}

// The kill -9 test of crash_test.go with a million bindings configured.
func BenchmarkCrashWith1MBindings(b *testing.B) {
	for i := 0; i < b.N; i++ {
		crashRounds(b, datadirWithBindings(b, 1_000_000), 1, 1_000_000)
	}
}

func dirBytes(b *testing.B, dir string) int64 {
	b.Helper()
	return dirSize(b, dir)
}

// Boot with 100,000 bindings saved, for a quick look at what boot costs.
func BenchmarkBoot100k(b *testing.B) {
	benchBoot(b, 100_000)
}
