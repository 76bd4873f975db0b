package softwire

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// TestRelayConfig: dhcpv4-over-dhcpv6-relay is read with its defaults,
// and refused with a precise path when it cannot work.
func TestRelayConfig(t *testing.T) {
	any := "2001:db8:ac::1"
	relay := func(f func(r *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover_Dhcpv4OverDhcpv6Relay)) func(*gen.WirebeatSoftwire_Softwire_Lwaftr_Failover) {
		return func(fo *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover) {
			fo.AnycastAddress = &any
			r := fo.GetOrCreateDhcpv4OverDhcpv6Relay()
			en, la := true, "2001:db8:b4::1"
			r.Enabled, r.Server, r.LinkAddress = &en, []string{"2001:db8:ff::2"}, &la
			f(r)
		}
	}
	d := failoverDev(gen.WirebeatSoftwire_FailoverMode_icmpv6_trigger, relay(func(*gen.WirebeatSoftwire_Softwire_Lwaftr_Failover_Dhcpv4OverDhcpv6Relay) {}))
	d.GetSoftwire().GetLwaftr().GetOrCreateInternalInterface().Device = ptr("int0")
	s, err := FailoverConfig(d)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Relay
	if r == nil || len(r.Servers) != 1 || r.Servers[0].String() != "[2001:db8:ff::2]:547" || r.LinkAddr.String() != "2001:db8:b4::1" ||
		string(r.InterfaceID) != "int0" || r.Rate != 100 || r.Burst != 50 || !r.Source.IsUnspecified() {
		t.Fatalf("relay setup %+v", r)
	}
	for _, c := range []struct {
		mode gen.E_WirebeatSoftwire_FailoverMode
		f    func(*gen.WirebeatSoftwire_Softwire_Lwaftr_Failover_Dhcpv4OverDhcpv6Relay)
		why  string
	}{
		{gen.WirebeatSoftwire_FailoverMode_none, func(*gen.WirebeatSoftwire_Softwire_Lwaftr_Failover_Dhcpv4OverDhcpv6Relay) {}, "needs a failover mode"},
		{gen.WirebeatSoftwire_FailoverMode_icmpv6_trigger, func(r *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover_Dhcpv4OverDhcpv6Relay) { r.Server = nil }, "server: at least one"},
		{gen.WirebeatSoftwire_FailoverMode_icmpv6_trigger, func(r *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover_Dhcpv4OverDhcpv6Relay) {
			r.Server = []string{"ff02::1:2"}
		}, "not a unicast IPv6 address"},
		{gen.WirebeatSoftwire_FailoverMode_icmpv6_trigger, func(r *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover_Dhcpv4OverDhcpv6Relay) { r.LinkAddress = nil }, "link-address: required"},
	} {
		_, err := FailoverConfig(failoverDev(c.mode, relay(c.f)))
		if err == nil || !strings.Contains(err.Error(), "dhcpv4-over-dhcpv6-relay") || !strings.Contains(err.Error(), c.why) {
			t.Errorf("want an error about %q, got %v", c.why, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// nsFrameTo is a neighbour solicitation from the router (44:..) for
// target, as the internal link delivers it.
func nsFrameTo(target []byte) []byte {
	f := make([]byte, 14+netpkt.NDLen)
	router := [6]byte{0x44, 0x44, 0x44, 0x44, 0x44, 0x44}
	dmac := netpkt.WriteNS(f[14:], []byte{0xfe, 0x80, 15: 1}, target, router[:])
	copy(f[0:6], dmac[:])
	copy(f[6:12], router[:])
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	return f
}

// echoFrameTo is an ICMPv6 echo request to dst, which the engine
// answers in or out of service: a marker after the solicitation.
func echoFrameTo(dst []byte) []byte {
	f := make([]byte, 14+40+8)
	copy(f[0:6], []byte{0x22, 0x22, 0x22, 0x22, 0x22, 0x22})
	copy(f[6:12], []byte{0x44, 0x44, 0x44, 0x44, 0x44, 0x44})
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	src := []byte{0x20, 0x01, 0xd, 0xb8, 15: 7}
	netpkt.WriteIPv6Header(f[14:], 0, 8, 58, src, dst)
	f[14+40] = 128
	binary.BigEndian.PutUint16(f[14+42:], netpkt.ICMPv6Checksum(src, dst, f[14+40:]))
	return f
}

// TestSubsystemOutOfService: failover/out-of-service applies to the
// running lwAFTR without a restart: the engine stops answering neighbour
// solicitations for the anycast address (and state says in-service
// false) and answers again once it is back in service.
func TestSubsystemOutOfService(t *testing.T) {
	links := map[string]*memLink{"ext0": newMemLink(), "int0": newMemLink()}
	sub := NewLwaftrSubsystem(LwaftrOptions{Open: func(dev string) (Link, error) { return links[dev], nil }})
	defer sub.Close()
	parse := func(out bool) *gen.Device {
		d := &gen.Device{}
		fo := `"failover": {"mode": "icmpv6-trigger", "anycast-address": "8:9:a:b:c:d:e:f", "drain-period": 0, "out-of-service": ` + map[bool]string{true: "true", false: "false"}[out] + `}, "binding-table"`
		if err := gen.Unmarshal([]byte(strings.Replace(testConfigJSON, `"binding-table"`, fo, 1)), d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	commit := func(old, new *gen.Device) {
		cs := schema.NewChangeSet(old, new, sub.Owns())
		if err := sub.Prepare(cs); err != nil {
			t.Fatal(err)
		}
		sub.Apply(cs)
	}
	anycast := []byte{0, 8, 0, 9, 0, 0xa, 0, 0xb, 0, 0xc, 0, 0xd, 0, 0xe, 0, 0xf}
	// answers sends a solicitation then a ping, and reports whether an
	// advertisement came out before the echo reply.
	answers := func() bool {
		links["int0"].in <- nsFrameTo(anycast)
		links["int0"].in <- echoFrameTo(anycast)
		na := false
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
			select {
			case f := <-links["int0"].out:
				if len(f) > 14+40 && f[14+6] == 58 && f[14+40] == 136 {
					na = true
				}
				if len(f) > 14+40 && f[14+6] == 58 && f[14+40] == 129 {
					return na
				}
			case <-time.After(100 * time.Millisecond):
			}
		}
		t.Fatal("no echo reply")
		return false
	}
	inService := func() bool {
		root := &gen.Device{}
		_ = sub.State(root, nil)
		return root.GetSoftwire().GetLwaftr().GetFailover().GetState().GetInService()
	}
	in, out := parse(false), parse(true)
	commit(&gen.Device{}, in)
	sub.mu.Lock()
	run := sub.run
	sub.mu.Unlock()
	if !answers() || !inService() {
		t.Fatal("in service: no neighbour advertisement for the anycast address")
	}
	commit(in, out)
	if answers() || inService() {
		t.Fatalf("out of service: advertisement sent %v, state in-service %v", true, inService())
	}
	commit(out, in)
	if !answers() || !inService() {
		t.Fatal("back in service: no neighbour advertisement")
	}
	sub.mu.Lock()
	same := sub.run == run
	sub.mu.Unlock()
	if !same {
		t.Fatal("changing out-of-service restarted the engine")
	}
}

// A commit that disables a lwAFTR with a drain-period returns at once:
// the engine goes on forwarding out of service in the background (its
// state still read), and enabling the lwAFTR again cuts the drain short
// and starts a new engine in service. With the drain inside Apply, the
// disabling commit would wait the whole 600 s.
func TestSubsystemDisableDrainsInBackground(t *testing.T) {
	links := map[string]*memLink{"ext0": newMemLink(), "int0": newMemLink()}
	sub := NewLwaftrSubsystem(LwaftrOptions{Open: func(dev string) (Link, error) { return links[dev], nil }})
	defer sub.Close()
	parseDrain := func(enabled bool, drain int) *gen.Device {
		d := &gen.Device{}
		fo := `"failover": {"mode": "icmpv6-trigger", "anycast-address": "8:9:a:b:c:d:e:f", "drain-period": ` + strconv.Itoa(drain) + `}, "binding-table"`
		js := strings.Replace(testConfigJSON, `"binding-table"`, fo, 1)
		if !enabled {
			js = strings.Replace(js, `"enabled": true`, `"enabled": false`, 1)
		}
		if err := gen.Unmarshal([]byte(js), d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	parse := func(enabled bool) *gen.Device { return parseDrain(enabled, 600) }
	commit := func(old, new *gen.Device) {
		cs := schema.NewChangeSet(old, new, sub.Owns())
		if err := sub.Prepare(cs); err != nil {
			t.Fatal(err)
		}
		sub.Apply(cs)
	}
	anycast := []byte{0, 8, 0, 9, 0, 0xa, 0, 0xb, 0, 0xc, 0, 0xd, 0, 0xe, 0, 0xf}
	echoed := func() bool {
		links["int0"].in <- echoFrameTo(anycast)
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
			select {
			case f := <-links["int0"].out:
				if len(f) > 14+40 && f[14+6] == 58 && f[14+40] == 129 {
					return true
				}
			case <-time.After(100 * time.Millisecond):
			}
		}
		return false
	}
	state := func() (running, inService bool) {
		root := &gen.Device{}
		_ = sub.State(root, nil)
		lw := root.GetSoftwire().GetLwaftr()
		return lw.GetCounters() != nil, lw.GetFailover().GetState().GetInService()
	}
	on, off := parse(true), parse(false)
	if on.GetSoftwire().GetLwaftr().GetEnabled() == off.GetSoftwire().GetLwaftr().GetEnabled() {
		t.Fatal("test configuration: enabled not toggled")
	}
	commit(&gen.Device{}, on)
	if r, in := state(); !r || !in {
		t.Fatalf("enabled: running %v, in service %v", r, in)
	}
	commit(on, off) // returns: the drain goes on in the background
	if r, in := state(); !r || in {
		t.Fatalf("draining: state read %v, in service %v (want true, false)", r, in)
	}
	if !echoed() {
		t.Fatal("the draining lwAFTR stopped forwarding")
	}
	sub.mu.Lock()
	d := sub.draining
	sub.mu.Unlock()
	if d == nil {
		t.Fatal("no drain in progress")
	}
	commit(off, on)
	select {
	case <-d.done:
	default:
		t.Fatal("enabling again left the old engine draining")
	}
	if r, in := state(); !r || !in {
		t.Fatalf("enabled again: running %v, in service %v", r, in)
	}
	// Shutting down honours the drain-period: none, so that Close
	// returns.
	commit(on, parseDrain(true, 0))
}
