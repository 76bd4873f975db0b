package bfd

import (
	"testing"
	"time"
)

func TestPairComesUpWithSlowStart(t *testing.T) {
	ca := baseConfig(addrA, addrB, 300_000, 300_000, 3)
	cb := baseConfig(addrB, addrA, 300_000, 300_000, 3)
	p := newPair(t, ca, cb)
	var sawSlow bool
	p.ab.drop = func(_ int, pkt []byte) bool {
		q := decode(t, pkt)
		if q.State != StateUp && q.DesiredMinTxInterval < slowStartTx {
			t.Errorf("packet in state %v advertises %d µs: slow start violated", q.State, q.DesiredMinTxInterval)
		}
		sawSlow = sawSlow || q.DesiredMinTxInterval == slowStartTx
		return false
	}
	p.mustComeUp()
	if !sawSlow {
		t.Error("never advertised the 1 s slow-start interval before Up")
	}
	// After Up the Poll sequence for leaving slow start completes and
	// the negotiated intervals are the configured 300 ms.
	p.step(3 * time.Second)
	a := p.infoA()
	if a.PollActive || a.NegotiatedTxInterval != 300_000 || a.NegotiatedRxInterval != 300_000 {
		t.Fatalf("after Up: poll=%v tx=%d rx=%d", a.PollActive, a.NegotiatedTxInterval, a.NegotiatedRxInterval)
	}
	if a.DetectionTime != 900_000 {
		t.Fatalf("detection time %d, want 900000", a.DetectionTime)
	}
	if len(p.ca) != 2 || p.ca[0].New != StateInit && p.ca[0].New != StateUp || p.ca[len(p.ca)-1].New != StateUp {
		t.Fatalf("a's changes: %+v", p.ca)
	}
}

func TestDetectionTimeExpiry(t *testing.T) {
	p := newPair(t, baseConfig(addrA, addrB, 100_000, 100_000, 3), baseConfig(addrB, addrA, 100_000, 100_000, 3))
	p.mustComeUp()
	p.step(2 * time.Second)
	p.cut = true
	cutAt := p.clock.T
	if !p.until(5*time.Second, func() bool { return p.infoA().LocalState == StateDown }) {
		t.Fatal("a never went Down")
	}
	a := p.infoA()
	if a.LocalDiag != DiagControlDetectionTimeExpired {
		t.Fatalf("diag %v, want 1", a.LocalDiag)
	}
	// Down comes one Detection Time (3 x 100 ms) after the last packet,
	// which arrived at most one tx interval before the cut.
	if lat := p.clock.T.Sub(cutAt); lat > 300*time.Millisecond+time.Millisecond || lat < 200*time.Millisecond {
		t.Fatalf("down after %v, want within (200ms, 300ms]", lat)
	}
	if a.RemoteDiscr != 0 {
		t.Fatal("remote discriminator not forgotten after detection expiry")
	}
	if a.DownCount != 1 || a.UpCount != 1 {
		t.Fatalf("up %d down %d", a.UpCount, a.DownCount)
	}
	// Once the path heals they come back.
	p.cut = false
	p.mustComeUp()
}

// TestReceptionTable drives one session with hand-made packets through the
// state table of RFC 5880 section 6.8.6.
func TestReceptionTable(t *testing.T) {
	cases := []struct {
		name     string
		from     State // session's state before (reached by setup)
		rcv      State
		want     State
		wantDiag Diag
	}{
		{"down+down->init", StateDown, StateDown, StateInit, DiagNone},
		{"down+init->up", StateDown, StateInit, StateUp, DiagNone},
		{"down+up stays down", StateDown, StateUp, StateDown, DiagNone},
		{"down+admindown stays down", StateDown, StateAdminDown, StateDown, DiagNone},
		{"init+init->up", StateInit, StateInit, StateUp, DiagNone},
		{"init+up->up", StateInit, StateUp, StateUp, DiagNone},
		{"init+down stays init", StateInit, StateDown, StateInit, DiagNone},
		{"init+admindown->down diag3", StateInit, StateAdminDown, StateDown, DiagNeighborSignaledSessionDown},
		{"up+down->down diag3", StateUp, StateDown, StateDown, DiagNeighborSignaledSessionDown},
		{"up+init stays up", StateUp, StateInit, StateUp, DiagNone},
		{"up+up stays up", StateUp, StateUp, StateUp, DiagNone},
		{"up+admindown->down diag3", StateUp, StateAdminDown, StateDown, DiagNeighborSignaledSessionDown},
		{"admindown ignores up", StateAdminDown, StateInit, StateAdminDown, DiagAdministrativelyDown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := &ManualClock{T: time.Unix(0, 0)}
			e := NewEngine(Options{Clock: clk, Seed: 3})
			w := &memWire{}
			cfg := baseConfig(addrA, addrB, 1_000_000, 1_000_000, 3)
			d, err := e.AddSession(cfg, w)
			if err != nil {
				t.Fatal(err)
			}
			const peer = 0xabcd
			send := func(st State, your uint32) {
				pk := Packet{State: st, DetectMult: 3, MyDiscriminator: peer, YourDiscriminator: your,
					DesiredMinTxInterval: 1_000_000, RequiredMinRxInterval: 1_000_000}
				e.Receive([]Inbound{{Data: pk.AppendEncode(nil), Path: cfg.Path, TTL: 255}})
			}
			switch c.from {
			case StateInit:
				send(StateDown, 0)
			case StateUp:
				send(StateInit, d)
			case StateAdminDown:
				cfg.AdminDown = true
				if err := e.UpdateSession(d, cfg); err != nil {
					t.Fatal(err)
				}
			}
			if got, _ := e.Session(d); got.LocalState != c.from {
				t.Fatalf("setup reached %v, want %v", got.LocalState, c.from)
			}
			your := d
			if c.rcv == StateDown || c.rcv == StateAdminDown {
				your = 0
				if c.from != StateDown {
					your = d
				}
			}
			send(c.rcv, your)
			got, _ := e.Session(d)
			if got.LocalState != c.want || got.LocalDiag != c.wantDiag {
				t.Fatalf("state %v diag %v, want %v diag %v", got.LocalState, got.LocalDiag, c.want, c.wantDiag)
			}
			if got.RemoteDiscr != peer || got.RemoteState != c.rcv {
				t.Fatalf("remote discr %x state %v not recorded", got.RemoteDiscr, got.RemoteState)
			}
		})
	}
}

func TestReceptionDiscards(t *testing.T) {
	clk := &ManualClock{T: time.Unix(0, 0)}
	e := NewEngine(Options{Clock: clk, Seed: 4})
	cfg := baseConfig(addrA, addrB, 1_000_000, 1_000_000, 3)
	d, _ := e.AddSession(cfg, &memWire{})
	good := Packet{State: StateDown, DetectMult: 3, MyDiscriminator: 7, DesiredMinTxInterval: 1_000_000, RequiredMinRxInterval: 1_000_000}
	in := func(p Packet, path PathKey, ttl uint8) Inbound {
		return Inbound{Data: p.AppendEncode(nil), Path: path, TTL: ttl}
	}
	unknownYour := good
	unknownYour.State, unknownYour.YourDiscriminator = StateInit, d+1
	withAuth := good
	withAuth.Auth.Type = AuthSimplePassword
	_ = withAuth.Auth.SetPassword([]byte("x"))
	otherPath := cfg.Path
	otherPath.Remote = addrA
	badVersion := good.AppendEncode(nil)
	badVersion[0] = 2 << 5
	e.Receive([]Inbound{
		in(good, cfg.Path, 254),        // TTL below 255 on single hop: dropped
		in(unknownYour, cfg.Path, 255), // no such discriminator
		in(good, otherPath, 255),       // Your Discr 0 and no session on this path
		in(withAuth, cfg.Path, 255),    // A bit while no authentication configured
		{Data: badVersion, Path: cfg.Path, TTL: 255},
		{Data: []byte{1, 2, 3}, Path: cfg.Path, TTL: 255},
	})
	got, _ := e.Session(d)
	if got.LocalState != StateDown || got.RemoteDiscr != 0 {
		t.Fatalf("a discarded packet changed the session: %+v", got)
	}
	c := got.Counters
	if c.RxDropped != 1 || c.RxAuthFailures != 1 || c.RxInvalid != 1 || c.RxPackets != 0 {
		t.Fatalf("session counters %+v", c)
	}
	if ec := e.Counters(); ec.RxNoSession != 2 || ec.RxInvalid != 1 {
		t.Fatalf("engine counters %+v", ec)
	}
}
