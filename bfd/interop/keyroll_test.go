package interop

import (
	"fmt"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/bfd/adapter"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// TestKeyRolloverThroughConfig changes the meticulous keyed SHA1 key of a
// single-hop session at both ends through configuration, the way an
// operator would (add the new key as accepted, move each end to it, drop
// the old one): every step is used by both ends for several packets, no
// packet fails authentication, and the session never leaves Up.
//
// What is proven is the key handling, not the timers: 100 ms packets keep
// the steps short, and a multiplier of 30 (3 s detection) keeps a loaded
// machine's scheduling delay from passing for a flap. A step that breaks
// authentication is seen in the authentication-failure counters at once,
// whatever the detection time.
func TestKeyRolloverThroughConfig(t *testing.T) {
	testenv.RequireRoot(t, "network namespaces")
	nsA, nsB := netns.New(t, "krA"), netns.New(t, "krB")
	ifA, ifB := netns.Unique("ka"), netns.Unique("kb")
	netns.Veth(t, nsA, ifA, nsB, ifB)
	nsA.Addr(t, ifA, "10.94.0.1/24")
	nsB.Addr(t, ifB, "10.94.0.2/24")
	a, b := adapter.NewSubsystem(inNS(nsA)), adapter.NewSubsystem(inNS(nsB))
	defer a.Close()
	defer b.Close()

	// config builds one end: transmit key tx, accepted keys acc.
	config := func(ifname, peer string, tx uint8, acc ...uint8) *gen.Device {
		secrets := map[uint8]string{1: "first-secret-0001", 2: "second-secret-002"}
		d := &gen.Device{}
		p := d.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("k")
		p.DesiredMinTxInterval, p.RequiredMinRxInterval = ygot.Uint32(100_000), ygot.Uint32(100_000)
		p.DetectionMultiplier = ygot.Uint8(30)
		au := p.GetOrCreateAuthentication()
		au.Type, au.KeyId, au.Secret = gen.WirebeatBfd_AuthType_meticulous_keyed_sha1, ygot.Uint8(tx), ygot.String(secrets[tx])
		for _, id := range acc {
			au.GetOrCreateAcceptKey(id).Secret = ygot.String(secrets[id])
		}
		d.GetOrCreateBfd().GetOrCreateSingleHop().GetOrCreateSession(ifname, peer).Profile = ygot.String("k")
		return d
	}
	cfgA, cfgB := &gen.Device{}, &gen.Device{}
	apply := func(nextA, nextB *gen.Device) {
		t.Helper()
		for _, x := range []struct {
			ad        *adapter.Subsystem
			old, next *gen.Device
		}{{a, cfgA, nextA}, {b, cfgB, nextB}} {
			if x.next == nil {
				continue
			}
			if err := commit(x.ad, x.old, x.next); err != nil {
				t.Fatal(err)
			}
		}
		if nextA != nil {
			cfgA = nextA
		}
		if nextB != nil {
			cfgB = nextB
		}
	}
	state := func(ad *adapter.Subsystem, ifname, peer string) *gen.WirebeatBfd_Bfd_SingleHop_Session_State {
		root := &gen.Device{}
		if err := ad.State(root, nil); err != nil {
			t.Fatal(err)
		}
		return root.GetBfd().GetSingleHop().GetSession(ifname, peer).GetState()
	}
	up := func() bool {
		return state(a, ifA, "10.94.0.2").GetLocalState() == gen.WirebeatBfd_BfdState_up &&
			state(b, ifB, "10.94.0.1").GetLocalState() == gen.WirebeatBfd_BfdState_up
	}

	apply(config(ifA, "10.94.0.2", 1), config(ifB, "10.94.0.1", 1))
	waitFor(t, 10*time.Second, "both ends Up with key 1", up)
	steps := []struct {
		what         string
		nextA, nextB *gen.Device
	}{
		{"both accept key 2", config(ifA, "10.94.0.2", 1, 2), config(ifB, "10.94.0.1", 1, 2)},
		{"A sends key 2", config(ifA, "10.94.0.2", 2, 1), nil},
		{"B sends key 2", nil, config(ifB, "10.94.0.1", 2, 1)},
		{"key 1 dropped", config(ifA, "10.94.0.2", 2), config(ifB, "10.94.0.1", 2)},
	}
	// counts is what both ends have sent, received and refused so far.
	type counts struct{ txA, rxA, txB, rxB, failA, failB uint64 }
	now := func() counts {
		ca, cb := state(a, ifA, "10.94.0.2").GetCounters(), state(b, ifB, "10.94.0.1").GetCounters()
		return counts{ca.GetTxPackets(), ca.GetRxPackets(), cb.GetTxPackets(), cb.GetRxPackets(),
			ca.GetRxAuthFailures(), cb.GetRxAuthFailures()}
	}
	for _, st := range steps {
		apply(st.nextA, st.nextB)
		// Each end sends and accepts several packets under the new
		// configuration before the next step; a refused packet fails the
		// test as soon as it is counted.
		c0 := now()
		waitFor(t, 10*time.Second, fmt.Sprintf("packets exchanged after %q", st.what), func() bool {
			c := now()
			if c.failA != 0 || c.failB != 0 {
				t.Fatalf("after %q packets fail authentication: A refused %d, B %d", st.what, c.failA, c.failB)
			}
			return c.txA >= c0.txA+3 && c.txB >= c0.txB+3 && c.rxA >= c0.rxA+3 && c.rxB >= c0.rxB+3
		})
		if !up() {
			t.Fatalf("after %q the session is not Up", st.what)
		}
	}
	for _, s := range []*gen.WirebeatBfd_Bfd_SingleHop_Session_State{state(a, ifA, "10.94.0.2"), state(b, ifB, "10.94.0.1")} {
		if s.GetDownCount() != 0 || s.GetUpCount() != 1 {
			t.Fatalf("the session flapped during the rollover: up %d, down %d", s.GetUpCount(), s.GetDownCount())
		}
		if s.GetCounters().GetRxAuthFailures() != 0 {
			t.Fatalf("%d packets failed authentication during the rollover", s.GetCounters().GetRxAuthFailures())
		}
	}
	// A transmit key listed again as accepted with another secret is refused.
	bad := config(ifA, "10.94.0.2", 2)
	bad.GetBfd().GetProfiles().GetProfile("k").GetAuthentication().GetOrCreateAcceptKey(2).Secret = ygot.String("other")
	cs := schema.NewChangeSet(&gen.Device{}, bad, a.Owns())
	err := a.Prepare(cs)
	if err == nil {
		a.Abort(cs)
	}
	if e := schema.AsError(err); e == nil || e.Tag != schema.TagInvalidValue {
		t.Fatalf("conflicting accepted key: %v", e)
	}
}
