package adapter

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// memNet is an in-memory network of transports keyed by interface name,
// each interface with one address.
type memNet struct {
	mu    sync.Mutex
	addrs map[string]netip.Addr
	byIP  map[netip.Addr]*memTransport
	fail  bool
}

type memTransport struct {
	net   *memNet
	cfg   transport.Config
	eng   *bfd.Engine
	self  netip.Addr
	inbox chan bfd.Inbound
	quit  chan struct{}
}

func (n *memNet) open(cfg transport.Config, eng *bfd.Engine) (Transport, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail {
		return nil, errors.New("no such device")
	}
	t := &memTransport{net: n, cfg: cfg, eng: eng, self: n.addrs[cfg.Interface], inbox: make(chan bfd.Inbound, 1024), quit: make(chan struct{})}
	n.byIP[t.self] = t
	return t, nil
}

func (t *memTransport) Key(remote netip.Addr) bfd.PathKey {
	return bfd.PathKey{Kind: t.cfg.Kind, Interface: t.cfg.Interface, Remote: remote}
}

func (t *memTransport) Send(key bfd.PathKey, pkt []byte) error {
	t.net.mu.Lock()
	peer := t.net.byIP[key.Remote]
	t.net.mu.Unlock()
	if peer == nil {
		return nil
	}
	select {
	case peer.inbox <- bfd.Inbound{Data: append([]byte(nil), pkt...), Path: peer.Key(t.self), TTL: 255}:
	default:
	}
	return nil
}

func (t *memTransport) Run() error {
	for {
		select {
		case in := <-t.inbox:
			t.eng.Receive([]bfd.Inbound{in})
		case <-t.quit:
			return nil
		}
	}
}

func (t *memTransport) Close() error {
	t.net.mu.Lock()
	delete(t.net.byIP, t.self)
	t.net.mu.Unlock()
	close(t.quit)
	return nil
}

// recorder is an events.Sink keeping what it got.
type recorder struct {
	mu sync.Mutex
	ev []events.Event
}

func (r *recorder) Publish(e events.Event) { r.mu.Lock(); r.ev = append(r.ev, e); r.mu.Unlock() }
func (r *recorder) all() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.ev...)
}

func config(iface, dest string, tx uint32) *gen.Device {
	d := &gen.Device{}
	b := d.GetOrCreateBfd()
	p := b.GetOrCreateProfiles().GetOrCreateProfile("fast")
	p.DesiredMinTxInterval, p.RequiredMinRxInterval = ygot.Uint32(tx), ygot.Uint32(tx)
	s := b.GetOrCreateSingleHop().GetOrCreateSession(iface, dest)
	s.Profile = ygot.String("fast")
	return d
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func localState(t *testing.T, s *Subsystem, iface, dest string) (*gen.WirebeatBfd_Bfd_SingleHop_Session_State, bool) {
	t.Helper()
	root := &gen.Device{}
	if err := s.State(root, nil); err != nil {
		t.Fatal(err)
	}
	sess := root.GetBfd().GetSingleHop().GetSession(iface, dest)
	if sess == nil || sess.State == nil {
		return nil, false
	}
	return sess.State, true
}

func TestAdapterSessionsStateAndEvents(t *testing.T) {
	n := &memNet{addrs: map[string]netip.Addr{"a0": netip.MustParseAddr("192.0.2.1"), "b0": netip.MustParseAddr("192.0.2.2")},
		byIP: map[netip.Addr]*memTransport{}}
	a, b := NewSubsystem(Options{Open: n.open}), NewSubsystem(Options{Open: n.open})
	defer a.Close()
	defer b.Close()
	rec := &recorder{}
	a.Attach(rec)
	cfgA, cfgB := config("a0", "192.0.2.2", 20_000), config("b0", "192.0.2.1", 20_000)
	for _, c := range []struct {
		s   *Subsystem
		cfg *gen.Device
	}{{a, cfgA}, {b, cfgB}} {
		if err := check(c.s, c.cfg); err != nil {
			t.Fatal(err)
		}
		if err := commit(c.s, &gen.Device{}, c.cfg); err != nil {
			t.Fatal(err)
		}
	}
	up := func() bool {
		st, ok := localState(t, a, "a0", "192.0.2.2")
		return ok && st.LocalState == gen.WirebeatBfd_BfdState_up
	}
	waitFor(t, "a Up", up)
	st, _ := localState(t, a, "a0", "192.0.2.2")
	if st.GetUpCount() != 1 || st.GetLocalDiscriminator() == 0 || st.GetRemoteDiscriminator() == 0 || st.GetCounters().GetRxPackets() == 0 {
		t.Fatalf("state %+v", st)
	}

	// Notifications: one per change, with the session's keys.
	var sawUp bool
	for _, e := range rec.all() {
		if e.Kind != events.Notification || e.Module != "wirebeat-bfd" || e.Name != "session-state-change" {
			t.Fatalf("event %+v", e)
		}
		vals := map[string]string{}
		for _, l := range e.Leaves {
			if s, ok := l.Value.(interface{ String() string }); ok {
				vals[l.Name] = s.String()
			} else if s, ok := l.Value.(string); ok {
				vals[l.Name] = s
			}
		}
		if vals["session-type"] != "single-hop" || vals["interface"] != "a0" || vals["dest-addr"] != "192.0.2.2" {
			t.Fatalf("leaves %v", vals)
		}
		sawUp = sawUp || vals["new-state"] == "up"
		if len(e.Updates) == 0 || e.Updates[0].Path.Elem[len(e.Updates[0].Path.Elem)-1].Name != "local-state" {
			t.Fatalf("updates %+v", e.Updates)
		}
	}
	if !sawUp {
		t.Fatal("no notification for Up")
	}

	// State only under requested paths.
	root := &gen.Device{}
	other := &gpb.Path{Elem: []*gpb.PathElem{{Name: "bfd"}, {Name: "single-hop"}, {Name: "session", Key: map[string]string{"interface": "zz", "dest-addr": "*"}}}}
	if err := a.State(root, []*gpb.Path{other}); err != nil {
		t.Fatal(err)
	}
	if root.GetBfd().GetSingleHop().GetSession("a0", "192.0.2.2") != nil || root.GetBfd().GetSummary() != nil {
		t.Fatal("rendered a session nobody asked for")
	}
	root = &gen.Device{}
	sum := &gpb.Path{Elem: []*gpb.PathElem{{Name: "bfd"}, {Name: "summary"}}}
	if err := a.State(root, []*gpb.Path{sum}); err != nil {
		t.Fatal(err)
	}
	if root.GetBfd().GetSummary().GetNumberOfSessionsUp() != 1 || root.GetBfd().GetSingleHop() != nil {
		t.Fatalf("summary: %+v", root.GetBfd())
	}

	// A profile change renegotiates without a flap.
	cfgA2 := config("a0", "192.0.2.2", 30_000)
	if err := commit(a, cfgA, cfgA2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "new interval", func() bool {
		st, _ := localState(t, a, "a0", "192.0.2.2")
		return st.GetNegotiatedTxInterval() == 30_000
	})
	if st, _ := localState(t, a, "a0", "192.0.2.2"); st.GetDownCount() != 0 || st.GetUpCount() != 1 {
		t.Fatalf("profile change flapped: %+v", st)
	}

	// Admin down through configuration: the peer sees diag 7.
	cfgA3 := config("a0", "192.0.2.2", 30_000)
	cfgA3.Bfd.SingleHop.Session[gen.WirebeatBfd_Bfd_SingleHop_Session_Key{Interface: "a0", DestAddr: "192.0.2.2"}].AdminDown = ygot.Bool(true)
	if err := commit(a, cfgA2, cfgA3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "peer sees admin down", func() bool {
		st, ok := localState(t, b, "b0", "192.0.2.1")
		return ok && st.RemoteDiagnostic == gen.WirebeatBfd_Diagnostic_admin_down && st.LocalState == gen.WirebeatBfd_BfdState_down
	})

	// Removing the session releases it and its transport.
	if err := commit(a, cfgA3, &gen.Device{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := localState(t, a, "a0", "192.0.2.2"); ok {
		t.Fatal("removed session still rendered")
	}
	if len(a.transports) != 0 || a.Engine().Summary().Total != 0 {
		t.Fatal("transport or session left behind")
	}
}

func TestAdapterPrepareFailureChangesNothing(t *testing.T) {
	n := &memNet{addrs: map[string]netip.Addr{}, byIP: map[netip.Addr]*memTransport{}, fail: true}
	a := NewSubsystem(Options{Open: n.open})
	defer a.Close()
	if err := commit(a, &gen.Device{}, config("nosuch0", "192.0.2.2", 1_000_000)); err == nil {
		t.Fatal("Prepare succeeded without a transport")
	}
	if a.Engine().Summary().Total != 0 || len(a.sessions) != 0 {
		t.Fatal("failed Prepare left sessions")
	}
}

func TestAdapterValidate(t *testing.T) {
	a := NewSubsystem(Options{Open: (&memNet{}).open})
	defer a.Close()
	cases := []struct {
		name string
		mod  func(*gen.Device)
		path string
	}{
		{"type without secret", func(d *gen.Device) {
			d.Bfd.Profiles.Profile["fast"].GetOrCreateAuthentication().Type = gen.WirebeatBfd_AuthType_keyed_md5
		}, "/bfd/profiles/profile[name=fast]/authentication"},
		{"md5 secret too long", func(d *gen.Device) {
			au := d.Bfd.Profiles.Profile["fast"].GetOrCreateAuthentication()
			au.Type, au.Secret = gen.WirebeatBfd_AuthType_keyed_md5, ygot.String("0123456789abcdefX")
		}, "/bfd/profiles/profile[name=fast]/authentication/secret"},
		{"auth and stability", func(d *gen.Device) {
			au := d.Bfd.Profiles.Profile["fast"].GetOrCreateAuthentication()
			au.Type, au.Secret = gen.WirebeatBfd_AuthType_keyed_sha1, ygot.String("k")
			d.Bfd.Profiles.Profile["fast"].GetOrCreateStability().Enabled = ygot.Bool(true)
		}, "/bfd/profiles/profile[name=fast]/stability/enabled"},
		{"unknown profile", func(d *gen.Device) {
			for _, s := range d.Bfd.SingleHop.Session {
				s.Profile = ygot.String("nope")
			}
		}, "/bfd/single-hop/session[dest-addr=192.0.2.2][interface=a0]/profile"},
		{"local address family", func(d *gen.Device) {
			for _, s := range d.Bfd.SingleHop.Session {
				s.LocalAddress = ygot.String("2001:db8::1")
			}
		}, "/bfd/single-hop/session[dest-addr=192.0.2.2][interface=a0]/local-address"},
		{"multihop families", func(d *gen.Device) {
			d.Bfd.GetOrCreateMultiHop().GetOrCreateSession("192.0.2.1", "2001:db8::2")
		}, "/bfd/multi-hop/session[dest-addr=2001:db8::2][source-addr=192.0.2.1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := config("a0", "192.0.2.2", 1_000_000)
			c.mod(d)
			err := check(a, d)
			se := schema.AsError(err)
			if err == nil || se.Tag != schema.TagInvalidValue || schema.PathString(se.Path) != c.path {
				t.Fatalf("got %v (path %s), want invalid-value at %s", err, schema.PathString(se.Path), c.path)
			}
		})
	}
}

// commit takes the adapter from old to new as the core does: the changes
// under /bfd, Prepare, then Apply.
func commit(s *Subsystem, old, new *gen.Device) error {
	cs := changeSet(s, old, new)
	if err := s.Prepare(cs); err != nil {
		return err
	}
	s.Apply(cs)
	return nil
}

// check is what NETCONF <validate> does: Prepare and Abort.
func check(s *Subsystem, cfg *gen.Device) error {
	cs := changeSet(s, &gen.Device{}, cfg)
	if err := s.Prepare(cs); err != nil {
		return err
	}
	s.Abort(cs)
	return nil
}

func changeSet(s *Subsystem, old, new *gen.Device) *schema.ChangeSet {
	return schema.NewChangeSet(old, new, s.Owns())
}
