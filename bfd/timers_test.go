package bfd

import (
	"testing"
	"time"
)

// TestPollFinalChangesWithoutFlap: intervals and multiplier change on one
// end while Up; the other end follows through P/F and neither leaves Up.
func TestPollFinalChangesWithoutFlap(t *testing.T) {
	ca := baseConfig(addrA, addrB, 1_000_000, 1_000_000, 3)
	cb := baseConfig(addrB, addrA, 1_000_000, 1_000_000, 3)
	p := newPair(t, ca, cb)
	p.mustComeUp()
	p.step(3 * time.Second)
	var polls, finals int
	p.ab.drop = func(_ int, pkt []byte) bool {
		if decode(t, pkt).Poll {
			polls++
		}
		return false
	}
	p.ba.drop = func(_ int, pkt []byte) bool {
		if decode(t, pkt).Final {
			finals++
		}
		return false
	}
	ca.DesiredMinTxInterval, ca.RequiredMinRxInterval, ca.DetectMult = 200_000, 200_000, 5
	if err := p.a.UpdateSession(p.da, ca); err != nil {
		t.Fatal(err)
	}
	// Until the Final, a keeps the old (larger) receive interval for
	// detection and the transmit rate may already rise (6.8.3).
	if a := p.infoA(); !a.PollActive || a.DetectionTime != 3_000_000 {
		t.Fatalf("during poll: %+v", a)
	}
	p.step(3 * time.Second)
	a, b := p.infoA(), p.infoB()
	if polls == 0 || finals == 0 {
		t.Fatalf("polls %d finals %d", polls, finals)
	}
	if a.PollActive {
		t.Fatal("poll never terminated")
	}
	if b.NegotiatedRxInterval != 1_000_000 || b.RemoteMultiplier != 5 || b.NegotiatedTxInterval != 1_000_000 {
		t.Fatalf("b: rx %d tx %d mult %d", b.NegotiatedRxInterval, b.NegotiatedTxInterval, b.RemoteMultiplier)
	}
	// b's own interval is still 1 s; a receives at max(200ms, 1s).
	if a.NegotiatedRxInterval != 1_000_000 || b.DetectionTime != 5*1_000_000 {
		t.Fatalf("a rx %d, b detect %d", a.NegotiatedRxInterval, b.DetectionTime)
	}
	// Now b speeds up too: both at 200 ms, still no flap.
	cb.DesiredMinTxInterval, cb.RequiredMinRxInterval = 200_000, 200_000
	if err := p.b.UpdateSession(p.db, cb); err != nil {
		t.Fatal(err)
	}
	p.step(3 * time.Second)
	a, b = p.infoA(), p.infoB()
	if a.NegotiatedTxInterval != 200_000 || a.NegotiatedRxInterval != 200_000 || a.DetectionTime != 3*200_000 {
		t.Fatalf("a after b's change: %+v", a)
	}
	if a.DownCount != 0 || b.DownCount != 0 || a.UpCount != 1 || b.UpCount != 1 {
		t.Fatalf("flapped: a up %d down %d, b up %d down %d", a.UpCount, a.DownCount, b.UpCount, b.DownCount)
	}
}

// TestPollHoldsTimingUntilFinal: with the Finals lost, a reduced receive
// interval must not shorten detection (6.8.3).
func TestPollHoldsTimingUntilFinal(t *testing.T) {
	ca := baseConfig(addrA, addrB, 1_000_000, 1_000_000, 3)
	p := newPair(t, ca, baseConfig(addrB, addrA, 100_000, 100_000, 3))
	p.mustComeUp()
	p.step(3 * time.Second)
	p.ba.drop = func(_ int, pkt []byte) bool { return decode(t, pkt).Final }
	ca.RequiredMinRxInterval = 100_000
	ca.DesiredMinTxInterval = 2_000_000
	if err := p.a.UpdateSession(p.da, ca); err != nil {
		t.Fatal(err)
	}
	p.step(5 * time.Second)
	a := p.infoA()
	if !a.PollActive || a.DetectionTime != 3*1_000_000 || a.NegotiatedTxInterval != 1_000_000 {
		t.Fatalf("without Final: poll %v detect %d tx %d", a.PollActive, a.DetectionTime, a.NegotiatedTxInterval)
	}
	p.ba.drop = nil
	p.step(5 * time.Second)
	a = p.infoA()
	if a.PollActive || a.DetectionTime != 3*100_000 || a.NegotiatedTxInterval != 2_000_000 {
		t.Fatalf("after Final: poll %v detect %d tx %d", a.PollActive, a.DetectionTime, a.NegotiatedTxInterval)
	}
}

// txGaps records the gaps between a's packets over d of virtual time.
func txGaps(t *testing.T, p *pair, d time.Duration) []time.Duration {
	var last time.Time
	var gaps []time.Duration
	p.ab.drop = func(_ int, pkt []byte) bool {
		if decode(t, pkt).Final {
			return false
		}
		if !last.IsZero() {
			gaps = append(gaps, p.clock.T.Sub(last))
		}
		last = p.clock.T
		return false
	}
	p.step(d)
	p.ab.drop = nil
	return gaps
}

func TestJitter(t *testing.T) {
	for _, c := range []struct {
		mult   uint8
		lo, hi time.Duration
	}{{3, 75 * time.Millisecond, 100 * time.Millisecond}, {1, 75 * time.Millisecond, 90 * time.Millisecond}} {
		p := newPair(t, baseConfig(addrA, addrB, 100_000, 100_000, c.mult), baseConfig(addrB, addrA, 100_000, 100_000, 3))
		p.mustComeUp()
		p.step(2 * time.Second)
		gaps := txGaps(t, p, 20*time.Second)
		minG, maxG := time.Hour, time.Duration(0)
		for _, g := range gaps {
			minG, maxG = min(minG, g), max(maxG, g)
		}
		// 1 ms steps of the harness: allow the step as slack.
		if minG < c.lo || maxG > c.hi+time.Millisecond || maxG-minG < 10*time.Millisecond {
			t.Fatalf("mult %d: gaps in [%v, %v], want within [%v, %v] and spread", c.mult, minG, maxG, c.lo, c.hi)
		}
	}
}

func TestSlowStartWhileDown(t *testing.T) {
	p := newPair(t, baseConfig(addrA, addrB, 50_000, 50_000, 3), baseConfig(addrB, addrA, 50_000, 50_000, 3))
	p.cut = true
	gaps := txGaps(t, p, 10*time.Second)
	for _, g := range gaps {
		if g < 750*time.Millisecond {
			t.Fatalf("gap %v while Down: faster than slow start", g)
		}
	}
	if len(gaps) < 8 {
		t.Fatalf("only %d packets in 10 s", len(gaps))
	}
}

func TestAdminDown(t *testing.T) {
	ca := baseConfig(addrA, addrB, 100_000, 100_000, 3)
	p := newPair(t, ca, baseConfig(addrB, addrA, 100_000, 100_000, 3))
	p.mustComeUp()
	ca.AdminDown = true
	if err := p.a.UpdateSession(p.da, ca); err != nil {
		t.Fatal(err)
	}
	p.step(2 * time.Second)
	a, b := p.infoA(), p.infoB()
	if a.LocalState != StateAdminDown || a.LocalDiag != DiagAdministrativelyDown {
		t.Fatalf("a: %v %v", a.LocalState, a.LocalDiag)
	}
	if b.LocalState != StateDown || b.LocalDiag != DiagNeighborSignaledSessionDown || b.RemoteDiag != DiagAdministrativelyDown {
		t.Fatalf("b: %v diag %v remote diag %v", b.LocalState, b.LocalDiag, b.RemoteDiag)
	}
	ca.AdminDown = false
	if err := p.a.UpdateSession(p.da, ca); err != nil {
		t.Fatal(err)
	}
	p.mustComeUp()
}

func TestPassiveWaitsForPeer(t *testing.T) {
	ca := baseConfig(addrA, addrB, 100_000, 100_000, 3)
	ca.Passive = true
	cb := baseConfig(addrB, addrA, 100_000, 100_000, 3)
	p := newPair(t, ca, cb)
	p.ba.drop = func(int, []byte) bool { return true }
	p.step(5 * time.Second)
	if n := p.infoA().Counters.TxPackets; n != 0 {
		t.Fatalf("passive session sent %d packets before hearing the peer", n)
	}
	p.ba.drop = nil
	p.mustComeUp()
	if p.infoA().Counters.TxPackets == 0 {
		t.Fatal("passive session never answered")
	}
}

func TestHonoursPeerDemandMode(t *testing.T) {
	ca := baseConfig(addrA, addrB, 100_000, 100_000, 3)
	cb := baseConfig(addrB, addrA, 100_000, 100_000, 3)
	cb.Demand = true // b asks a to stop sending
	p := newPair(t, ca, cb)
	p.mustComeUp()
	p.step(2 * time.Second)
	before := p.infoA().Counters.TxPackets
	p.step(5 * time.Second)
	a, b := p.infoA(), p.infoB()
	if a.Counters.TxPackets != before {
		t.Fatalf("a kept sending %d periodic packets in the peer's demand mode", a.Counters.TxPackets-before)
	}
	if a.LocalState != StateUp || b.LocalState != StateUp || !b.DemandMode {
		t.Fatalf("a %v b %v demand %v", a.LocalState, b.LocalState, b.DemandMode)
	}
	// b verifies connectivity with a Poll: a answers with a Final.
	if err := p.b.Poll(p.db); err != nil {
		t.Fatal(err)
	}
	p.step(time.Second)
	if p.infoA().Counters.TxPackets == before || p.infoB().PollActive {
		t.Fatal("poll in demand mode not answered")
	}
	// With a gone, b's poll times out and b goes Down.
	p.cut = true
	_ = p.b.Poll(p.db)
	p.step(2 * time.Second)
	if b := p.infoB(); b.LocalState != StateDown || b.LocalDiag != DiagControlDetectionTimeExpired {
		t.Fatalf("b after unanswered poll: %v %v", b.LocalState, b.LocalDiag)
	}
}

func TestSignalDiagnostics(t *testing.T) {
	p := newPair(t, baseConfig(addrA, addrB, 100_000, 100_000, 3), baseConfig(addrB, addrA, 100_000, 100_000, 3))
	p.mustComeUp()
	for _, d := range []Diag{DiagConcatenatedPathDown, DiagReverseConcatenatedPathDown} {
		if err := p.a.SignalDiag(p.da, d); err != nil {
			t.Fatal(err)
		}
		p.step(500 * time.Millisecond)
		if b := p.infoB(); b.RemoteDiag != d || b.LocalState != StateUp {
			t.Fatalf("b sees diag %v state %v, want %v and Up", b.RemoteDiag, b.LocalState, d)
		}
	}
	for _, d := range []Diag{DiagEchoFunctionFailed, DiagForwardingPlaneReset, DiagPathDown} {
		p.mustComeUp()
		if err := p.a.SignalDiag(p.da, d); err != nil {
			t.Fatal(err)
		}
		if a := p.infoA(); a.LocalState != StateDown || a.LocalDiag != d {
			t.Fatalf("a after %v: %v %v", d, a.LocalState, a.LocalDiag)
		}
		p.step(500 * time.Millisecond)
		if b := p.infoB(); b.RemoteDiag != d && b.LocalDiag != DiagNeighborSignaledSessionDown {
			t.Fatalf("b did not see %v: %+v", d, b)
		}
	}
}

func TestDiscriminatorsUnique(t *testing.T) {
	e := NewEngine(Options{Clock: &ManualClock{}, Seed: 9})
	reserved := uint32(0)
	seen := map[uint32]bool{}
	for i := range 5000 {
		c := baseConfig(addrA, addrB, 1_000_000, 1_000_000, 3)
		c.Path.Interface = "if" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		d, err := e.AddSession(c, &memWire{})
		if err != nil {
			t.Fatal(err)
		}
		if d == 0 || seen[d] {
			t.Fatalf("discriminator %d zero or reused", d)
		}
		seen[d] = true
		if i == 0 {
			reserved = d
		}
	}
	if e.ReserveDiscriminator(reserved) {
		t.Fatal("reserved a discriminator in use")
	}
	if !e.ReserveDiscriminator(12345) {
		t.Fatal("could not reserve a free discriminator")
	}
	dup := baseConfig(addrA, addrB, 1_000_000, 1_000_000, 3)
	dup.Path.Interface = "ifaaa" // taken by i == 0
	if _, err := e.AddSession(dup, &memWire{}); err != ErrDuplicatePath {
		t.Fatalf("duplicate path: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := baseConfig(addrA, addrB, 1, 0, 1)
	bad := []struct {
		name string
		mod  func(*SessionConfig)
		want error
	}{
		{"no path", func(c *SessionConfig) { c.Path = PathKey{} }, ErrBadPath},
		{"zero tx", func(c *SessionConfig) { c.DesiredMinTxInterval = 0 }, ErrBadInterval},
		{"zero mult", func(c *SessionConfig) { c.DetectMult = 0 }, ErrBadMultiplier},
		{"auth and stability", func(c *SessionConfig) {
			c.Auth = AuthConfig{Type: AuthKeyedSHA1, Keys: []Key{{Secret: []byte("k")}}}
			c.Stability.Enabled = true
		}, ErrAuthAndStab},
		{"no tx key", func(c *SessionConfig) {
			c.Auth = AuthConfig{Type: AuthKeyedMD5, TxKeyID: 2, Keys: []Key{{ID: 1, Secret: []byte("k")}}}
		}, ErrNoTxKey},
		{"md5 key too long", func(c *SessionConfig) {
			c.Auth = AuthConfig{Type: AuthKeyedMD5, Keys: []Key{{Secret: make([]byte, 17)}}}
		}, ErrBadKeyLength},
		{"stability type 5", func(c *SessionConfig) { c.Stability = StabilityConfig{Enabled: true, AuthType: 5} }, ErrBadStabAuthType},
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range bad {
		cfg := ok
		c.mod(&cfg)
		if err := cfg.Validate(); err == nil || !errorsIs(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
