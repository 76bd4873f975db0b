package interop

import (
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/adapter"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/tools/netns"
)

// inNS makes the adapter open its sockets inside a namespace.
func inNS(ns *netns.NS) adapter.Options {
	return adapter.Options{
		Open: func(cfg transport.Config, eng *bfd.Engine) (t adapter.Transport, err error) {
			err = ns.Do(func() error {
				u, err := transport.Open(cfg, eng)
				t = u
				return err
			})
			return t, err
		},
		OpenReflector: func(cfg transport.ReflectorConfig, r *bfd.Reflector) (srv adapter.ReflectorServer, err error) {
			err = ns.Do(func() error {
				x, err := transport.OpenReflector(cfg, r)
				srv = x
				return err
			})
			return srv, err
		},
	}
}

type sink struct {
	mu sync.Mutex
	ev []events.Event
}

func (s *sink) Publish(e events.Event) { s.mu.Lock(); s.ev = append(s.ev, e); s.mu.Unlock() }

// TestAdapterSBFDFromConfig: two elements configured through the tree,
// one with an S-BFD reflector, the other with an initiator towards it.
func TestAdapterSBFDFromConfig(t *testing.T) {
	nsA, nsB := netns.New(t, "adA"), netns.New(t, "adB")
	ifA, ifB := netns.Unique("da"), netns.Unique("db")
	netns.Veth(t, nsA, ifA, nsB, ifB)
	nsA.Addr(t, ifA, "10.93.0.1/24")
	nsB.Addr(t, ifB, "10.93.0.2/24")

	a, b := adapter.NewSubsystem(inNS(nsA)), adapter.NewSubsystem(inNS(nsB))
	defer a.Close()
	defer b.Close()
	rec := &sink{}
	a.Attach(rec)

	cfgB := &gen.Device{}
	r := cfgB.GetOrCreateBfd().GetOrCreateSbfd().GetOrCreateReflector()
	r.Enabled, r.Discriminator = ygot.Bool(true), []uint32{4242}
	if err := commit(b, &gen.Device{}, cfgB); err != nil {
		t.Fatal(err)
	}

	cfgA := &gen.Device{}
	p := cfgA.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("fast")
	p.DesiredMinTxInterval, p.RequiredMinRxInterval = ygot.Uint32(100_000), ygot.Uint32(100_000)
	in := cfgA.GetOrCreateBfd().GetOrCreateSbfd().GetOrCreateInitiator("to-b")
	in.TargetAddress, in.RemoteDiscriminator, in.Profile = ygot.String("10.93.0.2"), ygot.Uint32(4242), ygot.String("fast")
	if err := commit(a, &gen.Device{}, cfgA); err != nil {
		t.Fatal(err)
	}
	initState := func() *gen.WirebeatBfd_Bfd_Sbfd_Initiator_State {
		root := &gen.Device{}
		if err := a.State(root, nil); err != nil {
			t.Fatal(err)
		}
		return root.GetBfd().GetSbfd().GetInitiator("to-b").GetState()
	}
	waitFor(t, 10*time.Second, "initiator Up", func() bool { return initState().GetLocalState() == gen.WirebeatBfd_BfdState_up })
	st := initState()
	if st.GetRemoteDiscriminator() != 4242 || st.GetCounters().GetRxPackets() == 0 || st.GetNegotiatedTxInterval() != 100_000 {
		t.Fatalf("initiator state %+v", st)
	}
	root := &gen.Device{}
	if err := b.State(root, nil); err != nil {
		t.Fatal(err)
	}
	if c := root.GetBfd().GetSbfd().GetReflector().GetCounters(); c.GetTxPackets() == 0 {
		t.Fatalf("reflector counters %+v", c)
	}
	rec.mu.Lock()
	var named bool
	for _, e := range rec.ev {
		for _, l := range e.Leaves {
			named = named || l.Name == "name" && l.Value == "to-b"
		}
	}
	rec.mu.Unlock()
	if !named {
		t.Fatal("no notification naming the initiator")
	}
	// The reflector's discriminator is reserved: disabling it releases it.
	offB := &gen.Device{}
	off := offB.GetOrCreateBfd().GetOrCreateSbfd().GetOrCreateReflector()
	off.Enabled, off.Discriminator = ygot.Bool(false), []uint32{4242}
	if err := commit(b, cfgB, offB); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "initiator Down once the reflector is off", func() bool {
		return initState().GetLocalState() == gen.WirebeatBfd_BfdState_down
	})
}

// commit takes an adapter from old to new as the element core does:
// Prepare the changes under what it owns, then Apply them.
func commit(ad *adapter.Subsystem, old, new *gen.Device) error {
	cs := schema.NewChangeSet(old, new, ad.Owns())
	if err := ad.Prepare(cs); err != nil {
		return err
	}
	ad.Apply(cs)
	return nil
}
