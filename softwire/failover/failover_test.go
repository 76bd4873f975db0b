package failover

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/bindstore"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/tools/etcdtest"
)

var (
	anycast  = netip.MustParseAddr("2001:db8:ac::1").As16()
	inet     = uint32(0xcb007107) // 203.0.113.7
	quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))
)

// sink counts what an engine sends, and keeps the frames.
type sink struct {
	mu     sync.Mutex
	frames [2][][]byte
}

func (s *sink) Send(p lwaftr.Port, f []byte) {
	s.mu.Lock()
	s.frames[p] = append(s.frames[p], append([]byte(nil), f...))
	s.mu.Unlock()
}

func (s *sink) take(p lwaftr.Port) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.frames[p]
	s.frames[p] = nil
	return f
}

func engineConfig(self string) lwaftr.Config {
	c := lwaftr.Config{External: lwaftr.DefaultSide(true), Internal: lwaftr.DefaultSide(false), Hairpinning: true}
	c.External.IP = []byte{198, 51, 100, 1}
	c.External.MAC = [6]byte{2, 0, 0, 0, 0, 1}
	c.External.NextHopMAC, c.External.NextHopMACSet = [6]byte{2, 0, 0, 0, 0, 0xee}, true
	ip := netip.MustParseAddr(self).As16()
	c.Internal.IP = ip[:]
	c.Internal.MAC = [6]byte{2, 0, 0, 0, 0, 2}
	c.Internal.NextHopMAC, c.Internal.NextHopMACSet = [6]byte{2, 0, 0, 0, 0, 0xdd}, true
	return c
}

func newEngine(t testing.TB, self string, bs []bindingtable.Softwire) (*lwaftr.Engine, *sink) {
	t.Helper()
	bt, err := lwaftr.NewTable(bs)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	e, err := lwaftr.New(engineConfig(self), bt, s)
	if err != nil {
		t.Fatal(err)
	}
	return e, s
}

func sum16(acc uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 != 0 {
		acc += uint32(b[len(b)-1]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}

// fromB4 builds the Ethernet frame of a TCP segment from (ipv4, port)
// behind B4 b4, encapsulated to dst.
func fromB4(b4, dst [16]byte, ipv4 uint32, port uint16) []byte {
	f := make([]byte, 14+40+20+20)
	f[0], f[5] = 2, 2
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	h6 := f[14:]
	h6[0] = 0x60
	binary.BigEndian.PutUint16(h6[4:], 40)
	h6[6], h6[7] = 4, 64
	copy(h6[8:], b4[:])
	copy(h6[24:], dst[:])
	h := h6[40:]
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], 40)
	h[8], h[9] = 64, 6
	binary.BigEndian.PutUint32(h[12:], ipv4)
	binary.BigEndian.PutUint32(h[16:], inet)
	binary.BigEndian.PutUint16(h[10:], fold(sum16(0, h[:20])))
	binary.BigEndian.PutUint16(h[20:], port)
	binary.BigEndian.PutUint16(h[22:], 80)
	h[32] = 0x50
	return f
}

func b4(i int) [16]byte {
	a := netip.MustParseAddr("2001:db8:b4::").As16()
	binary.BigEndian.PutUint32(a[12:], uint32(i))
	return a
}

func binding(i int) bindingtable.Softwire {
	// 192.0.2.x, psid-length 4, psid i%16.
	return bindingtable.Softwire{IPv4: 0xc0000200 + uint32(i/16), PSID: uint16(i % 16),
		PortSet: bindingtable.PortSet{Length: 4}, B4: b4(i), BR: anycast}
}

func portOf(i int) uint16 { return uint16(i%16)<<12 | 2000 }

// openStore opens a store on c whose changes go to the manager in m once
// the test has put one there.
func openStore(t testing.TB, c *etcdtest.Cluster, m *atomic.Pointer[Manager]) *bindstore.Store {
	t.Helper()
	s, err := bindstore.Open(bindstore.Config{Endpoints: c.Endpoints(), QueryTimeout: 500 * time.Millisecond,
		HealthInterval: 200 * time.Millisecond, Log: quietLog, OnChange: func(ev bindstore.Event) {
			if mm := m.Load(); mm != nil {
				mm.StoreEvent(ev)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// pump flushes the engine until f holds or d passes.
func pump(t *testing.T, e *lwaftr.Engine, what string, d time.Duration, f func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		e.Flush()
		if f() {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDataPacketTrigger: the primary provisions a B4 and writes the
// binding to a real etcd cluster; the backup, which has no binding, gets
// the B4's traffic after the anycast moves, validates it against its cache
// of the store, creates the binding and forwards — the held packets too.
// Another B4 claiming the same address and port is refused and then
// dropped by the negative cache without asking again.
func TestDataPacketTrigger(t *testing.T) {
	c := etcdtest.Start(t, 3)
	var primM, backM *Manager
	var primMhook atomic.Pointer[Manager]
	primStore := openStore(t, c, &primMhook)
	var backMhook atomic.Pointer[Manager]
	backStore := openStore(t, c, &backMhook)

	prim, primOut := newEngine(t, "2001:db8:1::1", nil)
	var err error
	var createdMu sync.Mutex
	var created []DynamicBinding
	primM, err = New(Config{Mode: DataPacketTrigger, Anycast: anycast, Lifetime: time.Minute, Log: quietLog}, primStore, primStore)
	if err != nil {
		t.Fatal(err)
	}
	primMhook.Store(primM)
	defer primM.Close()
	prim.SetUnknownSource(primM)
	back, backOut := newEngine(t, "2001:db8:2::1", nil)
	backM, err = New(Config{Mode: DataPacketTrigger, Anycast: anycast, Lifetime: time.Minute, Log: quietLog,
		OnCreated: func(d DynamicBinding) { createdMu.Lock(); created = append(created, d); createdMu.Unlock() }}, backStore, backStore)
	if err != nil {
		t.Fatal(err)
	}
	backMhook.Store(backM)
	defer backM.Close()
	back.SetUnknownSource(backM)

	// Provisioning through the primary.
	b := binding(5)
	if err := primM.Provisioned(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	prim.Flush()
	prim.Receive(lwaftr.Internal, fromB4(b.B4, anycast, b.IPv4, portOf(5)))
	prim.Flush()
	if n := len(primOut.take(lwaftr.External)); n != 1 {
		t.Fatalf("primary forwarded %d packets, want 1", n)
	}
	if d := primM.Dynamic(); len(d) != 1 || d[0].Origin != Provisioned || d[0].Lease == 0 {
		t.Fatalf("primary dynamic bindings %+v", d)
	}
	// The backup's cache learns it through the watch.
	pump(t, back, "binding in the backup's cache", 5*time.Second, func() bool { _, ok := backStore.Lookup(b.IPv4, portOf(5)); return ok })

	// Failover: three packets arrive at the backup.
	for range 3 {
		back.Receive(lwaftr.Internal, fromB4(b.B4, anycast, b.IPv4, portOf(5)))
	}
	var fwd int
	pump(t, back, "held packets forwarded", 5*time.Second, func() bool { fwd += len(backOut.take(lwaftr.External)); return fwd == 3 })
	if backM.C.ValidationsAsked.Load() != 1 || backM.C.ValidationsOK.Load() != 1 || backM.C.Released.Load() != 3 || backM.C.Created.Load() != 1 {
		t.Fatalf("counters asked %d ok %d released %d created %d", backM.C.ValidationsAsked.Load(), backM.C.ValidationsOK.Load(), backM.C.Released.Load(), backM.C.Created.Load())
	}
	if backStore.C.CacheHits.Load() != 1 {
		t.Fatalf("validation was not a cache hit: hits %d misses %d", backStore.C.CacheHits.Load(), backStore.C.CacheMisses.Load())
	}
	// The notification comes from the manager's keeper goroutine.
	pump(t, back, "binding-created", 5*time.Second, func() bool { createdMu.Lock(); defer createdMu.Unlock(); return len(created) > 0 })
	createdMu.Lock()
	if len(created) != 1 || created[0].Origin != Validated || created[0].Binding != b {
		t.Fatalf("binding-created %+v", created)
	}
	createdMu.Unlock()
	// Now it is a binding of the backup: forwarded directly.
	back.Receive(lwaftr.Internal, fromB4(b.B4, anycast, b.IPv4, portOf(5)))
	back.Flush()
	if n := len(backOut.take(lwaftr.External)); n != 1 || backM.C.Unknown.Load() != 3 {
		t.Fatalf("direct forward %d, unknown %d", n, backM.C.Unknown.Load())
	}

	// A spoofer using the same IPv4 and port from another B4 address.
	spoof := b4(999)
	back.Receive(lwaftr.Internal, fromB4(spoof, anycast, b.IPv4, portOf(5)))
	pump(t, back, "spoofer refused", 5*time.Second, func() bool { return backM.C.ValidationsFailed.Load() == 1 })
	back.Receive(lwaftr.Internal, fromB4(spoof, anycast, b.IPv4, portOf(5)))
	back.Flush()
	if backM.C.NegativeHits.Load() != 1 || backM.C.ValidationsAsked.Load() != 2 {
		t.Fatalf("negative cache: hits %d asked %d", backM.C.NegativeHits.Load(), backM.C.ValidationsAsked.Load())
	}
	if n := len(backOut.take(lwaftr.External)); n != 0 {
		t.Fatalf("spoofed packets forwarded: %d", n)
	}

	// The binding leaves the store (its provisioning ended): both drop it.
	if err := backStore.Delete(context.Background(), b.IPv4, b.PSID); err != nil {
		t.Fatal(err)
	}
	pump(t, back, "backup removes the revoked binding", 5*time.Second, func() bool { return backM.DynamicCount() == 0 })
	if _, ok := back.Table().Get(b.IPv4, b.PSID); ok {
		t.Fatal("revoked binding still in the backup's table")
	}
}

// TestSpoofedFlood: 10,000 distinct unknown B4 addresses send to the
// backup while a known B4 keeps sending; every packet of the known B4 is
// forwarded, validations stay within the rate limit and the bound on
// waiting B4s, and every unknown packet is accounted for.
func TestSpoofedFlood(t *testing.T) {
	c := etcdtest.Start(t, 1)
	var m *Manager
	var mhook atomic.Pointer[Manager]
	st := openStore(t, c, &mhook)
	known := binding(1)
	e, out := newEngine(t, "2001:db8:2::1", []bindingtable.Softwire{known})
	clock := time.Unix(1000, 0)
	var err error
	m, err = New(Config{Mode: DataPacketTrigger, Anycast: anycast, Log: quietLog, QueryRate: 1000, QueryBurst: 100,
		MaxPending: 64, Now: func() time.Time { return clock }}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	mhook.Store(m)
	defer m.Close()
	e.SetUnknownSource(m)
	knownFrame := fromB4(known.B4, anycast, known.IPv4, portOf(1))
	var fwdKnown int
	const flood = 10000
	for i := range flood {
		e.Receive(lwaftr.Internal, fromB4(b4(100000+i), anycast, 0xc6336400+uint32(i), 4000))
		if i%10 == 0 {
			e.Receive(lwaftr.Internal, knownFrame)
		}
		if i%64 == 63 {
			e.Flush()
			clock = clock.Add(time.Millisecond) // 10k packets over 156 ms
		}
		for _, f := range out.take(lwaftr.External) {
			if binary.BigEndian.Uint32(f[14+12:]) == known.IPv4 {
				fwdKnown++
			}
		}
	}
	pump(t, e, "validations answered", 10*time.Second, func() bool {
		return m.C.ValidationsFailed.Load() == m.C.ValidationsAsked.Load()
	})
	for _, f := range out.take(lwaftr.External) {
		if binary.BigEndian.Uint32(f[14+12:]) == known.IPv4 {
			fwdKnown++
		}
	}
	if fwdKnown != flood/10 {
		t.Fatalf("known B4: %d of %d packets forwarded", fwdKnown, flood/10)
	}
	asked := m.C.ValidationsAsked.Load()
	// 100 of burst plus 1000/s over ~156 ms of the fake clock.
	if asked > 100+160+1 {
		t.Fatalf("%d validations for a 156 ms flood at 1000/s, burst 100", asked)
	}
	total := m.C.ValidationsAsked.Load() + m.C.RateLimited.Load() + m.C.PendingFull.Load() + m.C.NegativeHits.Load()
	if total != flood || m.C.Unknown.Load() != flood {
		t.Fatalf("unknown %d; asked %d + rate-limited %d + pending-full %d + negative %d = %d, want %d",
			m.C.Unknown.Load(), asked, m.C.RateLimited.Load(), m.C.PendingFull.Load(), m.C.NegativeHits.Load(), total, flood)
	}
	if m.C.Created.Load() != 0 || e.Table().Len() != 1 {
		t.Fatalf("flood created bindings: %d (table %d)", m.C.Created.Load(), e.Table().Len())
	}
	t.Logf("flood of %d: asked %d, rate-limited %d, pending-full %d, negative %d, store misses %d",
		flood, asked, m.C.RateLimited.Load(), m.C.PendingFull.Load(), m.C.NegativeHits.Load(), st.C.CacheMisses.Load())
}

// TestICMPv6Trigger: a backup in icmpv6-trigger mode answers an unknown
// B4 with ICMPv6 Destination Unreachable code 5 (RFC 7596 §5.2), once per
// interval; after the B4 provisions again through it the binding exists,
// is in the store with a lease, and traffic flows.
func TestICMPv6Trigger(t *testing.T) {
	c := etcdtest.Start(t, 1)
	var m *Manager
	var mhook atomic.Pointer[Manager]
	st := openStore(t, c, &mhook)
	e, out := newEngine(t, "2001:db8:2::1", nil)
	var err error
	m, err = New(Config{Mode: ICMPv6Trigger, Anycast: anycast, Log: quietLog, Lifetime: 30 * time.Second}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	mhook.Store(m)
	defer m.Close()
	e.SetUnknownSource(m)
	b := binding(7)
	for range 3 {
		e.Receive(lwaftr.Internal, fromB4(b.B4, anycast, b.IPv4, portOf(7)))
	}
	e.Flush()
	icmp := out.take(lwaftr.Internal)
	if len(icmp) != 1 {
		t.Fatalf("%d ICMPv6 errors for 3 packets in one interval, want 1", len(icmp))
	}
	h := icmp[0][14:]
	if h[6] != 58 || h[40] != 1 || h[41] != 5 || [16]byte(h[24:40]) != b.B4 {
		t.Fatalf("not a Destination Unreachable code 5 to the B4: next %d type %d code %d", h[6], h[40], h[41])
	}
	if [16]byte(h[48+24:48+40]) != anycast {
		t.Fatal("the error does not quote the packet sent to the anycast address")
	}
	if m.C.ICMPTriggers.Load() != 1 || m.C.ICMPSuppressed.Load() != 2 {
		t.Fatalf("triggers %d suppressed %d", m.C.ICMPTriggers.Load(), m.C.ICMPSuppressed.Load())
	}
	// The lwB4 provisions again through this lwAFTR.
	if err := m.Provisioned(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	e.Flush() // installed between batches
	e.Receive(lwaftr.Internal, fromB4(b.B4, anycast, b.IPv4, portOf(7)))
	e.Flush()
	if n := len(out.take(lwaftr.External)); n != 1 {
		t.Fatalf("after re-provisioning %d packets forwarded, want 1", n)
	}
	got, r, err := st.Validate(context.Background(), b.B4, b.IPv4, portOf(7))
	if err != nil || r != bindstore.Valid || got != b {
		t.Fatalf("store after provisioning: %v %v", r, err)
	}
	if d := m.Dynamic(); len(d) != 1 || d[0].Origin != Reprovisioned {
		t.Fatalf("dynamic after the ICMPv6 trigger: %+v", d)
	}
	// A renewal refreshes the same lease.
	lease := m.Dynamic()[0].Lease
	if err := m.Provisioned(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	e.Flush()
	if d := m.Dynamic(); len(d) != 1 || d[0].Lease != lease {
		t.Fatalf("renewal: %+v (lease was %d)", d, lease)
	}
}

// fakeClock is a clock tests move by hand, read by the manager's
// goroutines too.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Unix(1000, 0).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time           { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Add(d time.Duration)      { c.ns.Add(int64(d)) }
func (c *fakeClock) Since(t time.Time) string { return c.Now().Sub(t).String() }

// useSeen flushes e until the manager's sweeps have found n more of its
// dynamic bindings used (the marks of a period reach a sweep through the
// engine's next Poll).
func useSeen(t *testing.T, e *lwaftr.Engine, m *Manager, n uint64) {
	t.Helper()
	want := m.C.UsedSeen.Load() + n
	pump(t, e, "use seen by a sweep", 10*time.Second, func() bool { return m.C.UsedSeen.Load() >= want })
}

// TestLifetimeAndLimit: a dynamic binding's lifetime runs from its last
// use: one that keeps carrying traffic outlives its lifetime, an idle one
// is removed (binding-removed "expired") after it, and the used one goes
// too once it stops; max-dynamic-bindings bounds them.
func TestLifetimeAndLimit(t *testing.T) {
	e, out := newEngine(t, "2001:db8:2::1", nil)
	clock := newFakeClock()
	var mu sync.Mutex
	var removed []string
	m, err := New(Config{Mode: ICMPv6Trigger, Anycast: anycast, Log: quietLog, Lifetime: time.Minute, MaxDynamic: 2,
		SweepInterval: 2 * time.Millisecond, Now: clock.Now,
		OnRemoved: func(_ DynamicBinding, why string) { mu.Lock(); removed = append(removed, why); mu.Unlock() }}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e.SetUnknownSource(m)
	for i := range 3 {
		if err := m.Provisioned(context.Background(), binding(i)); err != nil {
			t.Fatal(err)
		}
	}
	e.Flush()
	if m.DynamicCount() != 2 || m.C.MaxDynamicDrops.Load() != 1 || e.Table().Len() != 2 {
		t.Fatalf("limit: %d dynamic, %d refused, table %d", m.DynamicCount(), m.C.MaxDynamicDrops.Load(), e.Table().Len())
	}
	used, idle := binding(0), binding(1)
	start := clock.Now()
	// Binding 0 carries a packet every 20 s for 100 s; binding 1 none.
	for range 5 {
		clock.Add(20 * time.Second)
		e.Receive(lwaftr.Internal, fromB4(used.B4, anycast, used.IPv4, portOf(0)))
		e.Flush()
		if n := len(out.take(lwaftr.External)); n != 1 {
			t.Fatalf("used binding forwarded %d at %s", n, clock.Since(start))
		}
		useSeen(t, e, m, 1)
	}
	pump(t, e, "idle binding removed", 10*time.Second, func() bool { return m.DynamicCount() == 1 })
	if _, ok := e.Table().Get(idle.IPv4, idle.PSID); ok {
		t.Fatal("idle binding still in the table")
	}
	if _, ok := e.Table().Get(used.IPv4, used.PSID); !ok {
		t.Fatalf("used binding expired %s after provisioning, though used 20 s ago", clock.Since(start))
	}
	if d := m.Dynamic(); len(d) != 1 || d[0].Binding != used || d[0].LastUsed.IsZero() {
		t.Fatalf("dynamic %+v", d)
	}
	// Idle from now on: it goes a lifetime after its last use.
	clock.Add(61 * time.Second)
	pump(t, e, "binding removed after it stopped", 10*time.Second, func() bool { return m.DynamicCount() == 0 })
	if _, ok := e.Table().Get(used.IPv4, used.PSID); ok {
		t.Fatal("expired binding still in the table")
	}
	m.Close() // delivers the notes
	mu.Lock()
	defer mu.Unlock()
	if len(removed) != 2 || removed[0] != "expired" || removed[1] != "expired" {
		t.Fatalf("binding-removed %v", removed)
	}
}

// TestStoreDown: with every etcd member down, B4s the backup already has
// keep flowing; unknown ones are refused as unconfirmed.
func TestStoreDown(t *testing.T) {
	c := etcdtest.Start(t, 3)
	var m *Manager
	var mhook atomic.Pointer[Manager]
	st := openStore(t, c, &mhook)
	known := binding(3)
	if _, err := st.Put(context.Background(), known, 0); err != nil {
		t.Fatal(err)
	}
	e, out := newEngine(t, "2001:db8:2::1", nil)
	var err error
	m, err = New(Config{Mode: DataPacketTrigger, Anycast: anycast, Log: quietLog, QueryTimeout: 300 * time.Millisecond}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	mhook.Store(m)
	defer m.Close()
	e.SetUnknownSource(m)
	pump(t, e, "cached", 5*time.Second, func() bool { _, ok := st.Lookup(known.IPv4, portOf(3)); return ok })
	e.Receive(lwaftr.Internal, fromB4(known.B4, anycast, known.IPv4, portOf(3)))
	pump(t, e, "known forwarded", 5*time.Second, func() bool { return len(out.take(lwaftr.External)) == 1 })
	for _, mem := range c.Members {
		mem.Kill()
	}
	pump(t, e, "store unreachable", 10*time.Second, func() bool { return !st.State().Reachable })
	e.Receive(lwaftr.Internal, fromB4(known.B4, anycast, known.IPv4, portOf(3)))
	e.Flush()
	if n := len(out.take(lwaftr.External)); n != 1 {
		t.Fatalf("known B4 with etcd down: %d forwarded", n)
	}
	other := binding(4)
	e.Receive(lwaftr.Internal, fromB4(other.B4, anycast, other.IPv4, portOf(4)))
	pump(t, e, "unknown refused", 5*time.Second, func() bool { return m.C.StoreUnreachable.Load() == 1 })
	if n := len(out.take(lwaftr.External)); n != 0 {
		t.Fatalf("unknown B4 forwarded with etcd down: %d", n)
	}
}

// TestICMPv6TriggerLearnsFromStore: after the ICMPv6 trigger, the B4's new
// provisioning reaches the backup through the store (written there by
// whatever provisioned it); the backup installs it as reprovisioned. A
// binding for a B4 it never triggered is not installed.
func TestICMPv6TriggerLearnsFromStore(t *testing.T) {
	c := etcdtest.Start(t, 1)
	var m *Manager
	var mhook atomic.Pointer[Manager]
	st := openStore(t, c, &mhook)
	e, out := newEngine(t, "2001:db8:2::1", nil)
	var err error
	m, err = New(Config{Mode: ICMPv6Trigger, Anycast: anycast, Log: quietLog}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	mhook.Store(m)
	defer m.Close()
	e.SetUnknownSource(m)
	b, other := binding(8), binding(9)
	e.Receive(lwaftr.Internal, fromB4(b.B4, anycast, b.IPv4, portOf(8)))
	e.Flush()
	if len(out.take(lwaftr.Internal)) != 1 {
		t.Fatal("no ICMPv6 trigger")
	}
	// The provisioning system writes both (as another client would).
	for _, x := range []bindingtable.Softwire{b, other} {
		if _, err := st.Put(context.Background(), x, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	pump(t, e, "reprovisioned binding installed", 5*time.Second, func() bool { return m.DynamicCount() == 1 })
	if d := m.Dynamic(); d[0].Binding != b || d[0].Origin != Reprovisioned {
		t.Fatalf("dynamic %+v", d)
	}
	e.Receive(lwaftr.Internal, fromB4(b.B4, anycast, b.IPv4, portOf(8)))
	e.Flush()
	if len(out.take(lwaftr.External)) != 1 {
		t.Fatal("reprovisioned B4 not forwarded")
	}
	if _, ok := e.Table().Get(other.IPv4, other.PSID); ok {
		t.Fatal("a binding for a B4 never triggered was installed")
	}
}

// TestInboundTrigger: after a failover the first packet to reach the
// backup may come from the Internet (a download whose receiver has
// nothing to send); the backup finds the binding in its cache of the
// store, creates it and encapsulates the packet to the B4.
func TestInboundTrigger(t *testing.T) {
	c := etcdtest.Start(t, 1)
	var m *Manager
	var mhook atomic.Pointer[Manager]
	st := openStore(t, c, &mhook)
	b := binding(11)
	if _, err := st.Put(context.Background(), b, 0); err != nil {
		t.Fatal(err)
	}
	e, out := newEngine(t, "2001:db8:2::1", nil)
	var err error
	m, err = New(Config{Mode: DataPacketTrigger, Anycast: anycast, Log: quietLog}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	mhook.Store(m)
	defer m.Close()
	e.SetUnknownSource(m)
	pump(t, e, "cached", 5*time.Second, func() bool { _, ok := st.Lookup(b.IPv4, portOf(11)); return ok })
	// From the server to the B4's address and port, and to a port of no
	// binding.
	// The inner IPv4 packet of fromB4, turned around, in an IPv4 frame.
	frame := append(make([]byte, 14), fromB4(b.B4, anycast, b.IPv4, 0)[14+40:]...)
	binary.BigEndian.PutUint16(frame[12:], 0x0800)
	h := frame[14:]
	binary.BigEndian.PutUint32(h[12:], inet)
	binary.BigEndian.PutUint32(h[16:], b.IPv4)
	binary.BigEndian.PutUint16(h[20:], 80)
	binary.BigEndian.PutUint16(h[22:], portOf(11))
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], fold(sum16(0, h[:20])))
	e.Receive(lwaftr.External, frame)
	e.Flush()
	enc := out.take(lwaftr.Internal)
	if len(enc) != 1 || [16]byte(enc[0][14+24:14+40]) != b.B4 {
		t.Fatalf("%d packets to the B4 side", len(enc))
	}
	if m.C.InboundValidated.Load() != 1 || m.C.Created.Load() != 1 || m.Dynamic()[0].Origin != Validated {
		t.Fatalf("inbound %d created %d", m.C.InboundValidated.Load(), m.C.Created.Load())
	}
	binary.BigEndian.PutUint16(h[22:], portOf(12))
	e.Receive(lwaftr.External, frame)
	e.Flush()
	if n := len(out.take(lwaftr.Internal)); n != 0 || m.C.Created.Load() != 1 {
		t.Fatalf("a port of no binding: %d encapsulated, %d created", n, m.C.Created.Load())
	}
}

// sharedWriter applies table changes on its own goroutine, as the writer
// of a bindingtable.Shared that several workers read.
type sharedWriter struct {
	ch chan bindingtable.Softwire
}

func (w sharedWriter) Add(sw bindingtable.Softwire) error {
	select {
	case w.ch <- sw:
		return nil
	default:
		return fmt.Errorf("table writer busy")
	}
}

func (w sharedWriter) Remove(uint32, uint16) {}

// TestSharedTable: with engines reading a shared left-right table they
// must not change (the runner's workers), the manager installs through
// the table's writer and redelivers the held packets once the engine's
// view shows the binding.
func TestSharedTable(t *testing.T) {
	c := etcdtest.Start(t, 1)
	var m *Manager
	var mhook atomic.Pointer[Manager]
	st := openStore(t, c, &mhook)
	b := binding(13)
	if _, err := st.Put(context.Background(), b, 0); err != nil {
		t.Fatal(err)
	}
	pump0 := func() bool { _, ok := st.Lookup(b.IPv4, portOf(13)); return ok }
	for end := time.Now().Add(5 * time.Second); !pump0() && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	bt := bindingtable.New(16)
	shared := bindingtable.NewShared(bt, 1)
	reader := shared.Reader(0)
	w := sharedWriter{ch: make(chan bindingtable.Softwire, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sw := range w.ch {
			shared.Update(func(t *bindingtable.Table) error { return t.Add(sw) })
		}
	}()
	defer func() { close(w.ch); <-done }()
	out := &sink{}
	e, err := lwaftr.New(engineConfig("2001:db8:2::1"), bt, out)
	if err != nil {
		t.Fatal(err)
	}
	m, err = New(Config{Mode: DataPacketTrigger, Anycast: anycast, Log: quietLog, Table: w}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	mhook.Store(m)
	defer m.Close()
	e.SetUnknownSource(m)
	batch := func(frames ...[]byte) {
		e.SetSharedTable(reader.Enter())
		for _, f := range frames {
			e.Receive(lwaftr.Internal, f)
		}
		e.Flush()
		reader.Leave()
	}
	batch(fromB4(b.B4, anycast, b.IPv4, portOf(13)), fromB4(b.B4, anycast, b.IPv4, portOf(13)))
	var fwd int
	for end := time.Now().Add(5 * time.Second); fwd < 2 && time.Now().Before(end); {
		batch()
		fwd += len(out.take(lwaftr.External))
		time.Sleep(5 * time.Millisecond)
	}
	if fwd != 2 || m.C.Released.Load() != 2 || m.C.Created.Load() != 1 {
		t.Fatalf("forwarded %d, released %d, created %d", fwd, m.C.Released.Load(), m.C.Created.Load())
	}
	var in bool
	shared.View(func(t *bindingtable.Table) { _, in = t.Get(b.IPv4, b.PSID) })
	if !in {
		t.Fatal("binding not in the shared table")
	}
}

// TestLeaseKeptWhileUsed: a backup that took over a B4 (data-packet
// trigger) keeps the binding's etcd lease alive — the lease the primary
// granted, which nobody else renews once the primary is gone — for as
// long as the B4's traffic lasts, well past the lease's TTL, renewing it
// once per sweep; when the traffic stops the lease is let expire, etcd
// deletes the key, and the backup removes the binding ("expired").
func TestLeaseKeptWhileUsed(t *testing.T) {
	c := etcdtest.Start(t, 1)
	var primHook, backHook atomic.Pointer[Manager]
	primStore := openStore(t, c, &primHook)
	backStore := openStore(t, c, &backHook)
	const life = 3 * time.Second
	prim, _ := newEngine(t, "2001:db8:1::1", nil)
	primM, err := New(Config{Mode: DataPacketTrigger, Anycast: anycast, Lifetime: life, Log: quietLog}, primStore, primStore)
	if err != nil {
		t.Fatal(err)
	}
	primHook.Store(primM)
	prim.SetUnknownSource(primM)
	b := binding(7)
	if err := primM.Provisioned(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	prim.Flush()
	d := primM.Dynamic()
	if len(d) != 1 || d[0].Lease == 0 {
		t.Fatalf("primary's binding %+v", d)
	}
	lease := d[0].Lease
	// The primary dies: nothing renews its lease any more.
	primM.Close()

	back, backOut := newEngine(t, "2001:db8:2::1", nil)
	var mu sync.Mutex
	var removed []string
	backM, err := New(Config{Mode: DataPacketTrigger, Anycast: anycast, Lifetime: life, Log: quietLog,
		OnRemoved: func(_ DynamicBinding, why string) { mu.Lock(); removed = append(removed, why); mu.Unlock() }}, backStore, backStore)
	if err != nil {
		t.Fatal(err)
	}
	defer backM.Close()
	backHook.Store(backM)
	back.SetUnknownSource(backM)
	pump(t, back, "binding in the backup's cache", 5*time.Second, func() bool { _, ok := backStore.Lookup(b.IPv4, portOf(7)); return ok })

	// The B4's traffic reaches the backup for three lifetimes.
	var sent, fwd int
	for end := time.Now().Add(3 * life); time.Now().Before(end); {
		back.Receive(lwaftr.Internal, fromB4(b.B4, anycast, b.IPv4, portOf(7)))
		sent++
		back.Flush()
		fwd += len(backOut.take(lwaftr.External))
		time.Sleep(50 * time.Millisecond)
	}
	pump(t, back, "last packets forwarded", 5*time.Second, func() bool { fwd += len(backOut.take(lwaftr.External)); return fwd >= sent })
	if fwd != sent {
		t.Fatalf("forwarded %d of %d packets", fwd, sent)
	}
	if l, ok := backStore.LeaseOf(b.IPv4, b.PSID); !ok || l != lease {
		t.Fatalf("after 3 lifetimes of use the key is gone or on another lease (%d, %v; was %d)", l, ok, lease)
	}
	if backM.DynamicCount() != 1 || backM.C.LeasesRenewed.Load() == 0 || backM.C.Removed.Load() != 0 {
		t.Fatalf("dynamic %d, leases renewed %d, removed %d", backM.DynamicCount(), backM.C.LeasesRenewed.Load(), backM.C.Removed.Load())
	}
	// Idle: the lease runs out, etcd deletes the key, the binding goes.
	pump(t, back, "idle binding removed", 6*life, func() bool { return backM.DynamicCount() == 0 })
	pump(t, back, "key deleted by etcd", 6*life, func() bool { _, ok := backStore.LeaseOf(b.IPv4, b.PSID); return !ok })
	if _, ok := back.Table().Get(b.IPv4, b.PSID); ok {
		t.Fatal("idle binding still in the table")
	}
	backM.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(removed) != 1 || removed[0] != "expired" {
		t.Fatalf("binding-removed %v", removed)
	}
}

// TestGroupSharesUse: with the managers of two workers in one Group, a
// binding manager A created stays alive on traffic that only worker B's
// engine forwards (the kernel spread the B4's flows); without the group A
// sees no use and expires it after its lifetime.
func TestGroupSharesUse(t *testing.T) {
	for _, grouped := range []bool{true, false} {
		t.Run(fmt.Sprintf("grouped=%v", grouped), func(t *testing.T) {
			clock := newFakeClock()
			var g *Group
			if grouped {
				g = NewGroup()
			}
			cfg := Config{Mode: ICMPv6Trigger, Anycast: anycast, Log: quietLog, Lifetime: time.Minute,
				SweepInterval: 2 * time.Millisecond, Now: clock.Now, Group: g}
			b := binding(0)
			eA, _ := newEngine(t, "2001:db8:2::1", nil)
			eB, outB := newEngine(t, "2001:db8:2::1", []bindingtable.Softwire{b}) // the shared table, as B reads it
			mA, err := New(cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer mA.Close()
			mB, err := New(cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer mB.Close()
			eA.SetUnknownSource(mA)
			eB.SetUnknownSource(mB)
			if err := mA.Provisioned(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			eA.Flush()
			eB.Flush() // B's engine gets its use marks
			if mA.DynamicCount() != 1 {
				t.Fatal("not provisioned")
			}
			both := func(what string, f func() bool) {
				t.Helper()
				for end := time.Now().Add(10 * time.Second); ; {
					eA.Flush()
					eB.Flush()
					if f() {
						return
					}
					if time.Now().After(end) {
						t.Fatalf("%s: not after 10 s", what)
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			for range 5 {
				clock.Add(20 * time.Second)
				seen := mA.C.UsedSeen.Load()
				eB.Receive(lwaftr.Internal, fromB4(b.B4, anycast, b.IPv4, portOf(0)))
				eB.Flush()
				if n := len(outB.take(lwaftr.External)); n != 1 {
					t.Fatalf("B forwarded %d", n)
				}
				if !grouped {
					// A sweep or two, then on: nothing tells A.
					s := mA.C.Sweeps.Load() + 3
					both("sweeps", func() bool { return mA.C.Sweeps.Load() >= s })
					continue
				}
				both("use seen by A's book", func() bool { return mA.C.UsedSeen.Load() > seen })
			}
			s := mA.C.Sweeps.Load() + 3
			both("sweeps", func() bool { return mA.C.Sweeps.Load() >= s })
			if grouped && mA.DynamicCount() != 1 {
				t.Fatal("binding used through B expired at A")
			}
			if !grouped && mA.DynamicCount() != 0 {
				t.Fatal("without a group A kept a binding it saw no traffic for")
			}
		})
	}
}

// TestProvisionedWhileStoreDown: a B4 provisioned while etcd is down is
// installed and forwards at once (StoreDeferred); once etcd is back a
// sweep writes the binding, so that the other lwAFTRs can validate it.
func TestProvisionedWhileStoreDown(t *testing.T) {
	c := etcdtest.Start(t, 1)
	var hook atomic.Pointer[Manager]
	st := openStore(t, c, &hook)
	const life = 4 * time.Second
	e, out := newEngine(t, "2001:db8:1::1", nil)
	m, err := New(Config{Mode: DataPacketTrigger, Anycast: anycast, Lifetime: life, QueryTimeout: 300 * time.Millisecond, Log: quietLog}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	hook.Store(m)
	e.SetUnknownSource(m)
	c.Members[0].Kill()
	b := binding(9)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err = m.Provisioned(ctx, b)
	cancel()
	if err != nil {
		t.Fatalf("provisioned with the store down: %v", err)
	}
	e.Flush()
	if d := m.Dynamic(); len(d) != 1 || d[0].Lease != 0 || m.C.StoreDeferred.Load() != 1 {
		t.Fatalf("dynamic %+v, deferred %d", d, m.C.StoreDeferred.Load())
	}
	// The B4 forwards now, and keeps its binding alive with traffic.
	send := func() int {
		e.Receive(lwaftr.Internal, fromB4(b.B4, anycast, b.IPv4, portOf(9)))
		e.Flush()
		return len(out.take(lwaftr.External))
	}
	if send() != 1 {
		t.Fatal("the provisioned B4 is not forwarded while the store is down")
	}
	if err := c.Members[0].Restart(); err != nil {
		t.Fatal(err)
	}
	pump(t, e, "the binding written once etcd is back", 30*time.Second, func() bool {
		send()
		_, ok := st.LeaseOf(b.IPv4, b.PSID)
		return ok && m.C.StoreCaughtUp.Load() == 1
	})
	if d := m.Dynamic(); len(d) != 1 || d[0].Lease == 0 {
		t.Fatalf("after the write: %+v", d)
	}
}
