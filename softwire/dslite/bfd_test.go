package dslite

import (
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/bfd"
)

// sim is an in-process DS-Lite network: one B4, two AFTRs, each with its
// own BFD engine on one manual clock, and an IPv6 access network that
// carries every element's packets to the element they are addressed to.
type sim struct {
	t      *testing.T
	clk    *bfd.ManualClock
	b4     *B4
	b4bfd  *B4BFD
	b4eng  *bfd.Engine
	b4out  *capture
	aftrs  [2]*simAFTR
	b4Dead bool
	events []FailoverEvent
	lost   []B4Unreachable
	inet   [][]byte // IPv4 packets the AFTRs sent to the Internet
	// dropEvery drops every n-th BFD packet from the B4 (0: none).
	dropEvery, b4Sent int
}

type simAFTR struct {
	a    *AFTR
	m    *AFTRBFD
	eng  *bfd.Engine
	out  *capture
	dead bool
}

var (
	pool1 = netip.MustParsePrefix("198.51.100.0/30")
	pool2 = netip.MustParsePrefix("198.51.100.8/30")
)

func newSim(t *testing.T, tmpl bfd.SessionConfig, policy FailoverPolicy) *sim {
	s := &sim{t: t, clk: &bfd.ManualClock{T: t0}}
	for i, addr := range []netip.Addr{aftr1, aftr2} {
		x := &simAFTR{out: &capture{}}
		x.eng = bfd.NewEngine(bfd.Options{Clock: s.clk, Seed: uint64(i + 1), OnChange: func(c bfd.Change) { x.m.HandleChange(c) }})
		var err error
		x.m, err = NewAFTRBFD(x.eng, addr, AFTRBFDConfig{Template: tmpl, IdleTimeout: 10 * time.Minute, Now: s.clk.Now,
			OnB4Unreachable: func(u B4Unreachable) { s.lost = append(s.lost, u) }})
		if err != nil {
			t.Fatal(err)
		}
		x.a, err = NewAFTR(AFTRConfig{TunnelEndpoint: addr, Pools: []netip.Prefix{[]netip.Prefix{pool1, pool2}[i]},
			OnBFD: x.m.Receive}, x.out, t0)
		if err != nil {
			t.Fatal(err)
		}
		s.aftrs[i] = x
	}
	s.b4out = &capture{}
	s.b4eng = bfd.NewEngine(bfd.Options{Clock: s.clk, Seed: 9, OnChange: func(c bfd.Change) { s.b4bfd.HandleChange(c) }})
	var err error
	s.b4, err = NewB4(B4Config{Address: b4Self, AFTRs: []AFTREntry{{aftr1, 10}, {aftr2, 20}}, Policy: policy,
		HoldDown: 30 * time.Second, OnBFD: func(a netip.Addr, ttl uint8, p []byte) { s.b4bfd.Receive(a, ttl, p) },
		OnFailover: func(e FailoverEvent) { s.events = append(s.events, e) }}, s.b4out, t0)
	if err != nil {
		t.Fatal(err)
	}
	s.b4bfd = NewB4BFD(s.b4eng, s.b4, B4BFDConfig{Template: tmpl})
	if err := s.b4bfd.Sync(t0); err != nil {
		t.Fatal(err)
	}
	return s
}

// run advances the simulation by d in steps of 50 ms.
func (s *sim) run(d time.Duration, until func() bool) time.Duration {
	start := s.clk.T
	for s.clk.T.Sub(start) < d {
		s.clk.Advance(50 * time.Millisecond)
		now := s.clk.T
		s.b4eng.Advance()
		s.b4bfd.Service(now)
		s.b4.Advance(now)
		for _, x := range s.aftrs {
			x.eng.Advance()
			x.a.Advance(now)
			x.m.Service(x.a, now)
		}
		s.deliver()
		if until != nil && until() {
			break
		}
	}
	return s.clk.T.Sub(start)
}

func (s *sim) deliver() {
	for range 10 {
		moved := false
		out := s.b4out.v6
		s.b4out.v6 = nil
		for _, p := range out {
			moved = true
			if s.b4Dead {
				continue
			}
			if p[40+9] == 17 && be.Uint16(p[40+22:]) == BFDPort {
				s.b4Sent++
				if s.dropEvery > 0 && s.b4Sent%s.dropEvery == 0 {
					continue
				}
			}
			dst := netip.AddrFrom16([16]byte(p[24:40]))
			for i, addr := range []netip.Addr{aftr1, aftr2} {
				if dst == addr && !s.aftrs[i].dead {
					s.aftrs[i].a.FromB4(p)
				}
			}
		}
		for _, x := range s.aftrs {
			v6 := x.out.v6
			x.out.v6 = nil
			for _, p := range v6 {
				moved = true
				if !x.dead && !s.b4Dead {
					s.b4.FromWAN(p)
				}
			}
			s.inet = append(s.inet, x.out.v4...)
			x.out.v4 = nil
		}
		if !moved {
			return
		}
	}
}

func (s *sim) b4State(aftr netip.Addr) bfd.State {
	in, _ := s.b4bfd.Session(aftr)
	return in.LocalState
}

func (s *sim) aftrState(i int) bfd.State {
	in, ok := s.aftrs[i].m.Session(b4Self)
	if !ok {
		return bfd.StateDown
	}
	return in.LocalState
}

func (s *sim) allUp() bool {
	return s.b4State(aftr1) == bfd.StateUp && s.b4State(aftr2) == bfd.StateUp && s.aftrState(0) == bfd.StateUp && s.aftrState(1) == bfd.StateUp
}

var longIntervals = bfd.SessionConfig{DesiredMinTxInterval: 10_000_000, RequiredMinRxInterval: 10_000_000, DetectMult: 3}

// TestBFDInSoftwireFailover: with 10 s intervals, BFD comes up inside
// both tunnels (automatic passive sessions at the AFTRs, keyed by the
// B4's address); when AFTR1 dies the B4 is on AFTR2 within the
// detection time, and new traffic goes there.
func TestBFDInSoftwireFailover(t *testing.T) {
	s := newSim(t, longIntervals, NonRevertive)
	s.run(2*time.Minute, s.allUp)
	if !s.allUp() {
		t.Fatalf("not all up: B4 %v/%v, AFTRs %v/%v", s.b4State(aftr1), s.b4State(aftr2), s.aftrState(0), s.aftrState(1))
	}
	in, _ := s.aftrs[0].m.Session(b4Self)
	if !in.Dynamic || !in.Config.Passive || in.NegotiatedTxInterval != 10_000_000 {
		t.Fatalf("AFTR session %+v", in)
	}
	if a, _ := s.b4.Active(); a != aftr1 {
		t.Fatalf("active %v", a)
	}
	s.b4.FromLAN(udpOut(host, 4000))
	s.deliver()
	if len(s.inet) != 1 || !pool1.Contains(addr4(s.inet[0][12:])) {
		t.Fatal("traffic not through AFTR1")
	}
	s.aftrs[0].dead = true
	took := s.run(5*time.Minute, func() bool { a, _ := s.b4.Active(); return a == aftr2 })
	if a, _ := s.b4.Active(); a != aftr2 {
		t.Fatal("no failover to AFTR2")
	}
	detect := 30 * time.Second
	t.Logf("failover after %v (detection time %v)", took, detect)
	if took > detect+time.Second {
		t.Fatalf("failover took %v, detection time %v", took, detect)
	}
	ev := s.events[len(s.events)-1]
	if ev.From != aftr1 || ev.To != aftr2 || ev.Reason != ReasonBFDDown {
		t.Fatalf("event %+v", ev)
	}
	s.b4.FromLAN(udpOut(host, 4001))
	s.deliver()
	if len(s.inet) != 2 || !pool2.Contains(addr4(s.inet[1][12:])) {
		t.Fatal("new traffic not through AFTR2")
	}
	if s.aftrState(1) != bfd.StateUp {
		t.Fatal("BFD with AFTR2 not up")
	}
}

// TestAFTRReportsLostB4: when a B4 goes silent the AFTR reports it with
// the diagnostic, last-seen and NAT session count, and the automatic
// session goes after the idle time.
func TestAFTRReportsLostB4(t *testing.T) {
	s := newSim(t, bfd.SessionConfig{DesiredMinTxInterval: 30_000_000, RequiredMinRxInterval: 30_000_000, DetectMult: 3}, NonRevertive)
	s.run(3*time.Minute, s.allUp)
	if !s.allUp() {
		t.Fatal("not up")
	}
	for port := range uint16(3) {
		s.b4.FromLAN(udpOut(host, 5000+port))
	}
	s.deliver()
	if s.aftrs[0].a.Sessions() != 3 {
		t.Fatalf("%d NAT sessions", s.aftrs[0].a.Sessions())
	}
	s.b4Dead = true
	died := s.clk.T
	s.run(5*time.Minute, func() bool { return len(s.lost) == 2 })
	if len(s.lost) != 2 {
		t.Fatalf("reports %+v", s.lost)
	}
	var r B4Unreachable
	for _, u := range s.lost {
		if u.Sessions == 3 {
			r = u
		}
	}
	if r.B4 != b4Self || r.Diag != bfd.DiagControlDetectionTimeExpired || r.LastSeen.After(died) || died.Sub(r.LastSeen) > 31*time.Second {
		t.Fatalf("report %+v (B4 died at %v)", r, died)
	}
	s.run(11*time.Minute, nil)
	if s.aftrs[0].m.Len() != 0 || s.aftrs[1].m.Len() != 0 {
		t.Fatal("idle automatic sessions not removed")
	}
	// A B4 coming back gets a new automatic session.
	s.b4Dead = false
	s.run(3*time.Minute, s.allUp)
	if !s.allUp() {
		t.Fatal("not up again")
	}
}

// TestBFDStabilityInSoftwire: the stability extension counts loss inside
// the tunnel.
func TestBFDStabilityInSoftwire(t *testing.T) {
	tmpl := bfd.SessionConfig{DesiredMinTxInterval: 1_000_000, RequiredMinRxInterval: 1_000_000, DetectMult: 5,
		Stability: bfd.StabilityConfig{Enabled: true, Delay: true}}
	s := newSim(t, tmpl, NonRevertive)
	s.run(time.Minute, s.allUp)
	s.dropEvery = 10
	s.run(time.Minute, nil)
	in, _ := s.aftrs[0].m.Session(b4Self)
	if in.LocalState != bfd.StateUp || in.Stability.Lost == 0 {
		t.Fatalf("stability at the AFTR: %v %+v", in.LocalState, in.Stability)
	}
	t.Logf("AFTR1 saw %d lost of the B4's packets", in.Stability.Lost)
}

// TestB4DeadAFTRAtStart: an AFTR that never answers becomes unreachable
// after the startup timeout, so the B4 does not stay on it.
func TestB4DeadAFTRAtStart(t *testing.T) {
	s := newSim(t, longIntervals, NonRevertive)
	s.aftrs[0].dead = true
	s.run(3*time.Minute, func() bool { a, _ := s.b4.Active(); return a == aftr2 })
	if a, _ := s.b4.Active(); a != aftr2 {
		t.Fatal("B4 stayed on an AFTR that never answered")
	}
}

// TestRevertAfterHoldDown: a revertive B4 returns to AFTR1 once it has
// been up for the hold-down time.
func TestRevertAfterHoldDown(t *testing.T) {
	s := newSim(t, longIntervals, Revertive)
	s.run(2*time.Minute, s.allUp)
	s.aftrs[0].dead = true
	s.run(2*time.Minute, func() bool { a, _ := s.b4.Active(); return a == aftr2 })
	s.aftrs[0].dead = false
	var upAt time.Time
	s.run(5*time.Minute, func() bool {
		if upAt.IsZero() && s.b4State(aftr1) == bfd.StateUp {
			upAt = s.clk.T
		}
		a, _ := s.b4.Active()
		return a == aftr1
	})
	if a, _ := s.b4.Active(); a != aftr1 || s.clk.T.Sub(upAt) < 30*time.Second {
		t.Fatalf("active %v, %v after BFD up", a, s.clk.T.Sub(upAt))
	}
}

// TestAnycastAFTR: the B4 tunnels to an anycast endpoint; the AFTR
// answers BFD from its unicast address, and the session comes up all the
// same (the B4 sees that AFTR's own address as the peer).
func TestAnycastAFTR(t *testing.T) {
	anycast := netip.MustParseAddr("2001:db8:ac::1")
	unicast := netip.MustParseAddr("2001:db8:a::99")
	clk := &bfd.ManualClock{T: t0}
	var am *AFTRBFD
	aeng := bfd.NewEngine(bfd.Options{Clock: clk, Seed: 1, OnChange: func(c bfd.Change) { am.HandleChange(c) }})
	am, err := NewAFTRBFD(aeng, unicast, AFTRBFDConfig{Template: longIntervals, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	aout := &capture{}
	a, err := NewAFTR(AFTRConfig{TunnelEndpoint: anycast, UnicastAddress: unicast, Pools: []netip.Prefix{pool1}, OnBFD: am.Receive}, aout, t0)
	if err != nil {
		t.Fatal(err)
	}
	var bm *B4BFD
	beng := bfd.NewEngine(bfd.Options{Clock: clk, Seed: 2, OnChange: func(c bfd.Change) { bm.HandleChange(c) }})
	bout := &capture{}
	b, err := NewB4(B4Config{Address: b4Self, AFTRs: []AFTREntry{{anycast, 1}},
		OnBFD: func(x netip.Addr, ttl uint8, p []byte) { bm.Receive(x, ttl, p) }}, bout, t0)
	if err != nil {
		t.Fatal(err)
	}
	bm = NewB4BFD(beng, b, B4BFDConfig{Template: longIntervals})
	if err := bm.Sync(t0); err != nil {
		t.Fatal(err)
	}
	sawUnicast := false
	for range 2000 {
		clk.Advance(50 * time.Millisecond)
		beng.Advance()
		bm.Service(clk.T)
		aeng.Advance()
		a.Advance(clk.T)
		am.Service(a, clk.T)
		for _, p := range bout.v6 {
			a.FromB4(p)
		}
		bout.reset()
		for _, p := range aout.v6 {
			sawUnicast = sawUnicast || netip.AddrFrom16([16]byte(p[8:24])) == unicast
			b.FromWAN(p)
		}
		aout.reset()
	}
	in, _ := bm.Session(anycast)
	if !sawUnicast || in.LocalState != bfd.StateUp {
		t.Fatalf("BFD through the anycast endpoint: unicast replies %v, B4 state %v", sawUnicast, in.LocalState)
	}
	if st := b.AFTRs()[0].Status; st != StatusReachable {
		t.Fatalf("anycast AFTR status %v", st)
	}
	if x, ok := am.Session(b4Self); !ok || x.LocalState != bfd.StateUp {
		t.Fatal("AFTR session not up")
	}
}

// TestActiveAFTR: an AFTR that is active in BFD starts a session to a B4
// once it holds NAT state for it, and the B4's session comes up; a B4
// named in configuration gets one at once.
func TestActiveAFTR(t *testing.T) {
	clk := &bfd.ManualClock{T: t0}
	var am *AFTRBFD
	aeng := bfd.NewEngine(bfd.Options{Clock: clk, Seed: 1, OnChange: func(c bfd.Change) { am.HandleChange(c) }})
	am, err := NewAFTRBFD(aeng, aftr1, AFTRBFDConfig{Template: longIntervals, Now: clk.Now, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	aout := &capture{}
	a, err := NewAFTR(AFTRConfig{TunnelEndpoint: aftr1, Pools: []netip.Prefix{pool1}, OnBFD: am.Receive, OnB4: am.Track}, aout, t0)
	if err != nil {
		t.Fatal(err)
	}
	var bm *B4BFD
	beng := bfd.NewEngine(bfd.Options{Clock: clk, Seed: 2, OnChange: func(c bfd.Change) { bm.HandleChange(c) }})
	bout := &capture{}
	b, err := NewB4(B4Config{Address: b4Self, AFTRs: []AFTREntry{{aftr1, 1}},
		OnBFD: func(x netip.Addr, ttl uint8, p []byte) { bm.Receive(x, ttl, p) }}, bout, t0)
	if err != nil {
		t.Fatal(err)
	}
	bm = NewB4BFD(beng, b, B4BFDConfig{Template: longIntervals})
	if err := bm.Sync(t0); err != nil {
		t.Fatal(err)
	}
	// No NAT state yet: the B4's packets are dropped, no session is made.
	for range 100 {
		clk.Advance(50 * time.Millisecond)
		beng.Advance()
		bm.Service(clk.T)
		for _, p := range bout.v6 {
			a.FromB4(p)
		}
		bout.reset()
	}
	if am.Len() != 0 {
		t.Fatal("active AFTR answered a B4 it holds no state for")
	}
	other := netip.MustParseAddr("2001:db8:100::77")
	if err := am.AddB4(other); err != nil || am.Len() != 1 {
		t.Fatalf("configured B4: %v, %d sessions", err, am.Len())
	}
	b.FromLAN(udpOut(host, 4000))
	for range 2000 {
		clk.Advance(50 * time.Millisecond)
		beng.Advance()
		bm.Service(clk.T)
		aeng.Advance()
		a.Advance(clk.T)
		am.Service(a, clk.T)
		for _, p := range bout.v6 {
			a.FromB4(p)
		}
		bout.reset()
		for _, p := range aout.v6 {
			if netip.AddrFrom16([16]byte(p[24:40])) == b4Self {
				b.FromWAN(p)
			}
		}
		aout.reset()
	}
	in, ok := am.Session(b4Self)
	if !ok || in.Dynamic || in.Config.Passive || in.LocalState != bfd.StateUp {
		t.Fatalf("AFTR session to the B4: %v %+v", ok, in)
	}
	// The NAT session expires: the BFD session goes with it, the
	// configured one stays.
	clk.Advance(10 * time.Minute)
	a.Advance(clk.T)
	if _, ok := am.Session(b4Self); ok || am.Len() != 1 {
		t.Fatalf("after the B4's state went: %d sessions", am.Len())
	}
}
