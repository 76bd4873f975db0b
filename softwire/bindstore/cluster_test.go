package bindstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/etcdtest"
)

// logBuf collects the store's log lines for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func eventually(t *testing.T, what string, d time.Duration, f func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !f() {
		if time.Now().After(end) {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openStore(t *testing.T, c *etcdtest.Cluster, lb *logBuf, on func(Event)) *Store {
	t.Helper()
	var log *slog.Logger
	if lb != nil {
		log = slog.New(slog.NewTextHandler(lb, nil))
	}
	s, err := Open(Config{Endpoints: c.Endpoints(), QueryTimeout: 700 * time.Millisecond,
		HealthInterval: 200 * time.Millisecond, Log: log, OnChange: on})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitSynced(ctx); err != nil {
		t.Fatalf("store not synced: %v (%+v)", err, s.State())
	}
	return s
}

// TestClusterFailures runs against a real 3-member etcd cluster: bindings
// written by another client (etcdctl) reach the cache through the watch;
// malformed and overlapping entries are refused with counters and log
// lines; with one member killed validation goes on; with all killed the
// known bindings still validate, unknown ones are refused and the state
// says etcd is unreachable; after a restart it recovers.
func TestClusterFailures(t *testing.T) {
	c := etcdtest.Start(t, 3)
	lb := &logBuf{}
	var evMu sync.Mutex
	var evs []Event
	s := openStore(t, c, lb, func(e Event) { evMu.Lock(); evs = append(evs, e); evMu.Unlock() })
	ctx := context.Background()

	known := mustB("192.0.2.1", 1, 0, 4, "2001:db8::1", "2001:db8:ffff::1")
	if _, err := s.Put(ctx, known, 0); err != nil {
		t.Fatal(err)
	}
	// Another provisioning system writes with its own client.
	ext := mustB("192.0.2.2", 0, 0, 0, "2001:db8::2", "2001:db8:ffff::1")
	out, err := exec.Command("etcdctl", "--endpoints", strings.Join(c.Endpoints(), ","), "put",
		Key(DefaultPrefix, ext.IPv4, ext.PSID), string(Encode(ext))).CombinedOutput()
	if err != nil {
		t.Fatalf("etcdctl put: %v %s", err, out)
	}
	eventually(t, "both bindings cached", 5*time.Second, func() bool { return s.Len() == 2 })
	port := uint16(1<<12 + 100) // psid 1 of a 4-bit split
	if b, r, err := s.Validate(ctx, known.B4, known.IPv4, port); err != nil || r != Valid || b != known {
		t.Fatalf("Validate known = %+v %v %v", b, r, err)
	}
	if _, r, err := s.Validate(ctx, ext.B4, ext.IPv4, 80); err != nil || r != Valid {
		t.Fatalf("Validate etcdctl-written = %v %v", r, err)
	}
	if _, r, _ := s.Validate(ctx, ext.B4, known.IPv4, port); r != WrongB4 {
		t.Fatalf("another B4 claiming the binding: %v", r)
	}
	hits := s.C.CacheHits.Load()
	if hits < 3 {
		t.Fatalf("cache hits %d", hits)
	}
	// A miss asks etcd and finds nothing.
	if _, r, err := s.Validate(ctx, known.B4, 0xc0000263, 1000); err != nil || r != NotFound {
		t.Fatalf("Validate unknown = %v %v", r, err)
	}
	if s.C.CacheMisses.Load() != 1 {
		t.Fatalf("cache misses %d", s.C.CacheMisses.Load())
	}

	// Malformed entries: refused, counted, logged, never installed.
	if _, err := s.PutRaw(ctx, DefaultPrefix+"192.0.2.3/0", []byte(`{"ipv4":"192.0.2.3"`), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRaw(ctx, DefaultPrefix+"not-a-key", Encode(known), 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "malformed refused", 5*time.Second, func() bool { return s.C.RefusedMalformed.Load() == 2 })
	if _, ok := s.Lookup(0xc0000203, 1); ok || s.Len() != 2 {
		t.Fatalf("malformed entry installed (len %d)", s.Len())
	}
	if !strings.Contains(lb.String(), "binding refused: malformed") {
		t.Fatalf("no log line for the malformed entry:\n%s", lb.String())
	}
	// An entry of the same address with another split overlaps the
	// installed one: refused until the installed one goes.
	over := mustB("192.0.2.1", 0, 0, 2, "2001:db8::9", "2001:db8:ffff::1")
	if _, err := s.Put(ctx, over, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "overlap refused", 5*time.Second, func() bool { return s.C.RefusedOverlap.Load() == 1 })
	if b, _ := s.Lookup(known.IPv4, 100); b.B4 == over.B4 {
		t.Fatal("overlapping entry installed")
	}
	if !strings.Contains(lb.String(), "port set overlaps") {
		t.Fatalf("no log line for the overlap:\n%s", lb.String())
	}
	if err := s.Delete(ctx, known.IPv4, known.PSID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refused entry installed once the address is free", 5*time.Second, func() bool {
		b, ok := s.Lookup(over.IPv4, 100)
		return ok && b == over
	})
	if err := s.Delete(ctx, over.IPv4, over.PSID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, known, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "known back", 5*time.Second, func() bool { _, ok := s.Lookup(known.IPv4, port); return ok })

	// A dynamic binding with a lease: Create refuses another B4, returns
	// the lease for the same one, and the key goes when the lease ends.
	dyn := mustB("192.0.2.4", 3, 0, 4, "2001:db8::4", "2001:db8:ffff::1")
	lease, err := s.Create(ctx, dyn, 2*time.Second)
	if err != nil || lease == 0 {
		t.Fatalf("Create = %d %v", lease, err)
	}
	if l2, err := s.Create(ctx, dyn, 2*time.Second); err != nil || l2 != lease {
		t.Fatalf("Create again for the same B4 = %d %v, want lease %d", l2, err, lease)
	}
	other := dyn
	other.B4[15] = 0x99
	if _, err := s.Create(ctx, other, 2*time.Second); !errors.Is(err, ErrExists) {
		t.Fatalf("Create for another B4 = %v", err)
	}
	eventually(t, "dynamic binding cached", 5*time.Second, func() bool { _, ok := s.Lookup(dyn.IPv4, 3<<12); return ok })
	eventually(t, "dynamic binding expired", 10*time.Second, func() bool { _, ok := s.Lookup(dyn.IPv4, 3<<12); return !ok })
	evMu.Lock()
	var sawRemove bool
	for _, e := range evs {
		if e.Kind == Removed && e.Binding == dyn && e.Lease == lease {
			sawRemove = true
		}
	}
	evMu.Unlock()
	if !sawRemove {
		t.Fatal("no Removed event for the expired lease")
	}

	// One member down: validation continues, misses are answered by the
	// remaining quorum, writes propagate.
	c.Members[0].Kill()
	if _, r, err := s.Validate(ctx, known.B4, known.IPv4, port); err != nil || r != Valid {
		t.Fatalf("Validate with one member down = %v %v", r, err)
	}
	late := mustB("192.0.2.5", 0, 0, 0, "2001:db8::5", "2001:db8:ffff::1")
	eventually(t, "write with one member down", 10*time.Second, func() bool {
		_, err := s.Put(ctx, late, 0)
		return err == nil
	})
	eventually(t, "validation of a new binding with one member down", 10*time.Second, func() bool {
		_, r, err := s.Validate(ctx, late.B4, late.IPv4, 5000)
		return err == nil && r == Valid
	})
	if _, r, err := s.Validate(ctx, known.B4, 0xc0000264, 1); err != nil || r != NotFound {
		t.Fatalf("miss with one member down = %v %v", r, err)
	}
	if !s.State().Reachable {
		t.Fatalf("state with a quorum: %+v", s.State())
	}

	// All down: known bindings validate from the cache, unknown ones are
	// refused, the state says unreachable.
	c.Members[1].Kill()
	c.Members[2].Kill()
	eventually(t, "unreachable reported", 10*time.Second, func() bool { return !s.State().Reachable })
	st := s.State()
	if st.LastError == "" {
		t.Fatalf("unreachable without an error: %+v", st)
	}
	t.Logf("state with etcd down: %+v", st)
	if _, r, err := s.Validate(ctx, known.B4, known.IPv4, port); err != nil || r != Valid {
		t.Fatalf("known binding with etcd down = %v %v", r, err)
	}
	if _, _, err := s.Validate(ctx, known.B4, 0xc0000265, 1); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("unknown binding with etcd down = %v", err)
	}

	// Back up: reachable again, and changes made meanwhile arrive.
	for _, m := range c.Members {
		if err := m.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reachable again", 15*time.Second, func() bool { return s.State().Reachable })
	again := mustB("192.0.2.6", 0, 0, 0, "2001:db8::6", "2001:db8:ffff::1")
	if _, err := s.Put(ctx, again, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "watch resumed", 15*time.Second, func() bool { _, ok := s.Lookup(again.IPv4, 1); return ok })
}

// TestSecondStoreWarms: a lwAFTR starting after the bindings were written
// loads them all, in pages read at one revision.
func TestSecondStoreWarms(t *testing.T) {
	c := etcdtest.Start(t, 1)
	s := openStore(t, c, nil, nil)
	ctx := context.Background()
	for i := range 50 {
		b := mustB("198.51.100.1", uint16(i), 0, 6, "2001:db8::1", "2001:db8:ffff::1")
		b.B4[14] = byte(i)
		if _, err := s.Put(ctx, b, 0); err != nil {
			t.Fatal(err)
		}
	}
	// A second lwAFTR starting now loads them in pages.
	s2, err := Open(Config{Endpoints: c.Endpoints(), LoadPage: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s2.WaitSynced(wctx); err != nil {
		t.Fatal(err)
	}
	if s2.Len() != 50 {
		t.Fatalf("second store holds %d, want 50", s2.Len())
	}
	b, ok := s2.Lookup(0xc6336401, 49<<10)
	if !ok || b.PSID != 49 || b.B4[14] != 49 {
		t.Fatalf("Lookup psid 49 = %+v %v", b, ok)
	}
}
