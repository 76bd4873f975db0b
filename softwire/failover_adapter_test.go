package softwire

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/bindstore"
	"github.com/wirebeat/wirebeat/tools/etcdtest"
)

// syncSink records events published from the engine's goroutines.
type syncSink struct {
	mu  sync.Mutex
	evs []events.Event
}

func (s *syncSink) Publish(e events.Event) { s.mu.Lock(); s.evs = append(s.evs, e); s.mu.Unlock() }

func (s *syncSink) find(name string) (events.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.evs {
		if e.Name == name {
			return e, true
		}
	}
	return events.Event{}, false
}

func eventLeaf(e events.Event, name string) string {
	for _, l := range e.Leaves {
		if l.Name == name {
			return fmt.Sprint(l.Value)
		}
	}
	return ""
}

// waitUntil polls cond for up to d (a bound on a hang, not a timing
// assertion).
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fromB4 is an IPv4 TCP packet from src:sport to 198.51.100.7:80.
func fromB4(src [4]byte, sport uint16) []byte {
	h := make([]byte, 40)
	h[0], h[8], h[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(h[2:], 40)
	copy(h[12:16], src[:])
	copy(h[16:20], []byte{198, 51, 100, 7})
	fixIPv4Checksum(h[:20])
	binary.BigEndian.PutUint16(h[20:], sport)
	binary.BigEndian.PutUint16(h[22:], 80)
	h[32] = 0x50
	return h
}

// TestSubsystemFailoverFromEtcd runs /softwire/lwaftr/failover through
// the adapter's Prepare/Apply with a real etcd member: a binding written
// to etcd by someone else (a provisioning system) is taken over when the
// B4's first packet arrives (data-packet trigger): the packet is held,
// validated from the watch-fed cache, installed through the shared
// table's writer and forwarded; failover/state shows it, binding-created
// is published; deleting the key in etcd removes the binding and
// publishes binding-removed. With two workers the B4's packets reach the
// second one: each worker has its own manager, and the state sums them.
func TestSubsystemFailoverFromEtcd(t *testing.T) {
	cluster := etcdtest.Start(t, 1)
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { testFailoverFromEtcd(t, cluster, workers) })
	}
}

func testFailoverFromEtcd(t *testing.T, cluster *etcdtest.Cluster, workers int) {
	prov, err := bindstore.Open(bindstore.Config{Endpoints: cluster.Endpoints(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close()
	anycast := netip.MustParseAddr("8:9:a:b:c:d:e:f")
	b4 := netip.MustParseAddr("2001:db8::9")
	b := bindingtable.Softwire{IPv4: 0xc0000209, PSID: 3, PortSet: bindingtable.PortSet{Offset: 6, Length: 6},
		B4: b4.As16(), BR: anycast.As16()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := prov.Put(ctx, b, 0); err != nil {
		t.Fatal(err)
	}

	// Worker w's links are links[w][device]; the B4 is on the last
	// worker's.
	var links []map[string]*memLink
	for range workers {
		links = append(links, map[string]*memLink{"ext0": newMemLink(), "int0": newMemLink()})
	}
	sub := NewLwaftrSubsystem(LwaftrOptions{OpenDriver: func(dev, _ string, w, _ int) (Link, error) { return links[w][dev], nil }})
	b4Links := links[workers-1]
	sink := &syncSink{}
	sub.Attach(sink)
	defer sub.Close()
	cfgJSON := strings.Replace(testConfigJSON, `"binding-table"`, fmt.Sprintf(`"failover": {"mode": "data-packet-trigger",
	  "anycast-address": "8:9:a:b:c:d:e:f",
	  "validation-source": {"type": "etcd", "etcd": {"endpoint": [%q]}}},
	"workers": %d,
	"binding-table"`, cluster.Endpoints()[0], workers), 1)
	dev := &gen.Device{}
	if err := gen.Unmarshal([]byte(cfgJSON), dev); err != nil {
		t.Fatal(err)
	}
	cs := schema.NewChangeSet(&gen.Device{}, dev, sub.Owns())
	if err := sub.Prepare(cs); err != nil {
		t.Fatal(err)
	}
	sub.Apply(cs)

	state := func() *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover_State {
		root := &gen.Device{}
		if err := sub.State(root, nil); err != nil {
			t.Fatal(err)
		}
		return root.GetSoftwire().GetLwaftr().GetFailover().GetState()
	}
	waitUntil(t, 20*time.Second, "the store's cache to hold the binding", func() bool {
		return state().GetValidationSource().GetCachedBindings() == 1
	})
	if st := state(); !st.GetInService() || !st.GetValidationSource().GetReachable() {
		t.Fatalf("state before the takeover: in-service %v reachable %v", st.GetInService(), st.GetValidationSource().GetReachable())
	}

	// Port 1072 = a-bits 000001, PSID 3, m-bits 0000.
	frame := encapFrame(fromB4([4]byte{192, 0, 2, 9}, 1072), b4.AsSlice(), anycast.AsSlice())
	var out []byte
	for i := 0; i < 100 && out == nil; i++ {
		b4Links["int0"].in <- frame
		select {
		case out = <-b4Links["ext0"].out:
		case <-time.After(200 * time.Millisecond):
		}
	}
	if out == nil {
		t.Fatalf("the B4's packet was never forwarded; state %+v", state())
	}
	if got := netip.AddrFrom4([4]byte(out[14+12 : 14+16])); got.String() != "192.0.2.9" {
		t.Fatalf("forwarded packet from %s, want 192.0.2.9", got)
	}
	st := state()
	if st.GetBindingsCreated() != 1 || st.GetDynamicBindingCount() != 1 || st.GetDataPacketTrigger().GetValidations() < 1 ||
		st.GetDataPacketTrigger().GetCacheHits() < 1 {
		t.Fatalf("failover/state after the takeover: created %d count %d validations %d cache-hits %d",
			st.GetBindingsCreated(), st.GetDynamicBindingCount(), st.GetDataPacketTrigger().GetValidations(), st.GetDataPacketTrigger().GetCacheHits())
	}
	root := &gen.Device{}
	_ = sub.State(root, nil)
	db := root.GetSoftwire().GetLwaftr().GetFailover().GetDynamicBinding("192.0.2.9", 3)
	if db == nil || db.GetB4Ipv6() != "2001:db8::9" || db.CreatedBy != gen.WirebeatSoftwire_BindingCreatedReason_data_packet_validated ||
		db.Source != gen.WirebeatSoftwire_BindingSource_etcd {
		t.Fatalf("dynamic-binding entry: %+v", db)
	}
	e, ok := sink.find("binding-created")
	if !ok || eventLeaf(e, "ipv4") != "192.0.2.9" || eventLeaf(e, "b4-ipv6") != "2001:db8::9" || eventLeaf(e, "reason") != "data-packet-validated" {
		t.Fatalf("binding-created event: %v %+v", ok, e)
	}

	// The provisioning system revokes it.
	if err := prov.Delete(ctx, b.IPv4, b.PSID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "binding-removed", func() bool { _, ok := sink.find("binding-removed"); return ok })
	if st := state(); st.GetBindingsRemoved() != 1 || st.GetDynamicBindingCount() != 0 {
		t.Fatalf("after the revocation: removed %d count %d", st.GetBindingsRemoved(), st.GetDynamicBindingCount())
	}
	// The table no longer has it: the engine's view, through the runner.
	sub.mu.Lock()
	r := sub.run
	sub.mu.Unlock()
	if len(r.workers) != workers || len(sub.fo.managers) != workers {
		t.Fatalf("%d workers, %d managers; want %d of each", len(r.workers), len(sub.fo.managers), workers)
	}
	waitUntil(t, 10*time.Second, "the shared table to drop the binding", func() bool {
		var has bool
		r.shared.View(func(t *bindingtable.Table) { _, has = t.Get(b.IPv4, b.PSID) })
		return !has
	})
}

// TestSubsystemFailoverRefused: a failover configuration that cannot
// work is refused in Prepare with the failover path, and the running
// engine stays as it was.
func TestSubsystemFailoverRefused(t *testing.T) {
	links := map[string]*memLink{"ext0": newMemLink(), "int0": newMemLink()}
	sub := NewLwaftrSubsystem(LwaftrOptions{Open: func(dev string) (Link, error) { return links[dev], nil }})
	defer sub.Close()
	parse := func(js string) *gen.Device {
		d := &gen.Device{}
		if err := gen.Unmarshal([]byte(js), d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	good := parse(testConfigJSON)
	cs := schema.NewChangeSet(&gen.Device{}, good, sub.Owns())
	if err := sub.Prepare(cs); err != nil {
		t.Fatal(err)
	}
	sub.Apply(cs)
	sub.mu.Lock()
	running := sub.run
	sub.mu.Unlock()
	for _, c := range []struct{ failover, why string }{
		{`{"mode": "data-packet-trigger", "anycast-address": "8:9:a:b:c:d:e:f", "validation-source": {"type": "etcd"}}`, "endpoint"},
		{`{"mode": "data-packet-trigger", "anycast-address": "8:9:a:b:c:d:e:f", "validation-source": {"type": "static"}}`, "validation-source/type"},
		{`{"mode": "icmpv6-trigger"}`, "anycast-address"},
	} {
		bad := parse(strings.Replace(testConfigJSON, `"binding-table"`, `"failover": `+c.failover+`, "binding-table"`, 1))
		cs := schema.NewChangeSet(good, bad, sub.Owns())
		err := sub.Prepare(cs)
		if err == nil || !strings.Contains(err.Error(), c.why) {
			t.Fatalf("failover %s: Prepare said %v, want an error about %s", c.failover, err, c.why)
		}
		sub.mu.Lock()
		same, fo, pending := sub.run == running, sub.fo, sub.pending
		sub.mu.Unlock()
		if !same || fo != nil || pending != nil {
			t.Fatalf("failover %s: refused, but the subsystem changed (engine kept %v, failover %v, pending %v)", c.failover, same, fo, pending)
		}
	}
}
