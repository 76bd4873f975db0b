package bfd

import (
	"testing"
	"time"
)

func authPair(t *testing.T, typ AuthType, keyA, keyB string) *pair {
	ca := baseConfig(addrA, addrB, 100_000, 100_000, 3)
	cb := baseConfig(addrB, addrA, 100_000, 100_000, 3)
	ca.Auth = AuthConfig{Type: typ, TxKeyID: 1, Keys: []Key{{ID: 1, Secret: []byte(keyA)}}}
	cb.Auth = AuthConfig{Type: typ, TxKeyID: 1, Keys: []Key{{ID: 1, Secret: []byte(keyB)}}}
	return newPair(t, ca, cb)
}

var allAuthTypes = []AuthType{AuthSimplePassword, AuthKeyedMD5, AuthMeticulousKeyedMD5, AuthKeyedSHA1, AuthMeticulousKeyedSHA1}

func TestAuthTypesComeUp(t *testing.T) {
	for _, typ := range allAuthTypes {
		t.Run(typ.String(), func(t *testing.T) {
			p := authPair(t, typ, "s3cret", "s3cret")
			p.mustComeUp()
			p.step(2 * time.Second)
			a := p.infoA()
			if !a.RemoteAuthenticated || a.Counters.RxAuthFailures != 0 {
				t.Fatalf("authenticated %v failures %d", a.RemoteAuthenticated, a.Counters.RxAuthFailures)
			}
		})
	}
}

func TestAuthWrongKeyNeverUp(t *testing.T) {
	for _, typ := range allAuthTypes {
		t.Run(typ.String(), func(t *testing.T) {
			p := authPair(t, typ, "right", "wrong")
			p.step(10 * time.Second)
			a, b := p.infoA(), p.infoB()
			if a.LocalState != StateDown || b.LocalState != StateDown {
				t.Fatalf("came up with a wrong key: %v %v", a.LocalState, b.LocalState)
			}
			if a.Counters.RxAuthFailures < 5 || b.Counters.RxAuthFailures < 5 || a.Counters.RxPackets != 0 {
				t.Fatalf("failures a %d b %d, accepted %d", a.Counters.RxAuthFailures, b.Counters.RxAuthFailures, a.Counters.RxPackets)
			}
		})
	}
}

func TestAuthUnauthenticatedPacketRejected(t *testing.T) {
	p := authPair(t, AuthKeyedSHA1, "k", "k")
	p.mustComeUp()
	forged := Packet{State: StateDown, DetectMult: 3, MyDiscriminator: p.da, YourDiscriminator: p.db,
		DesiredMinTxInterval: 100_000, RequiredMinRxInterval: 100_000}
	p.b.Receive([]Inbound{{Data: forged.AppendEncode(nil), Path: p.ab.path, TTL: 255}})
	if b := p.infoB(); b.LocalState != StateUp || b.Counters.RxAuthFailures != 1 {
		t.Fatalf("unauthenticated Down accepted: %v failures %d", b.LocalState, b.Counters.RxAuthFailures)
	}
}

// TestAuthSequenceRules checks section 6.7's sequence numbers: a replay of
// the last number is fine for keyed and refused for meticulous; numbers
// behind, or more than 3 x Detect Mult ahead, are refused by both.
func TestAuthSequenceRules(t *testing.T) {
	for _, typ := range []AuthType{AuthKeyedMD5, AuthMeticulousKeyedMD5, AuthKeyedSHA1, AuthMeticulousKeyedSHA1} {
		t.Run(typ.String(), func(t *testing.T) {
			p := authPair(t, typ, "k", "k")
			p.mustComeUp()
			var last []byte
			p.ab.drop = func(_ int, pkt []byte) bool { last = append(last[:0], pkt...); return false }
			p.step(time.Second)
			p.ab.drop = nil
			meticulous := typ == AuthMeticulousKeyedMD5 || typ == AuthMeticulousKeyedSHA1
			seq := decode(t, last).Auth.Seq
			inject := func(s uint32) bool {
				q := decode(t, last)
				q.Auth.Seq = s
				b := q.AppendEncode(nil)
				if typ.isMD5() {
					_ = SignMD5(b, []byte("k"))
				} else {
					_ = SignSHA1(b, []byte("k"))
				}
				before := p.infoB().Counters.RxAuthFailures
				p.b.Receive([]Inbound{{Data: b, Path: p.ab.path, TTL: 255}})
				return p.infoB().Counters.RxAuthFailures == before
			}
			// The last packet was accepted with seq; replay it.
			if got := inject(seq); got == meticulous {
				t.Fatalf("replay of %d accepted=%v (meticulous %v)", seq, got, meticulous)
			}
			if inject(seq - 1) {
				t.Fatal("sequence number behind accepted")
			}
			if inject(seq + 3*3 + 1) {
				t.Fatal("sequence number beyond 3 x Detect Mult accepted")
			}
			if !inject(seq + 3*3) {
				t.Fatal("sequence number at the window's edge refused")
			}
			// A bad digest with a good sequence number is refused.
			q := decode(t, last)
			q.Auth.Seq = seq + 10
			b := q.AppendEncode(nil)
			if typ.isMD5() {
				_ = SignMD5(b, []byte("other"))
			} else {
				_ = SignSHA1(b, []byte("other"))
			}
			before := p.infoB().Counters.RxAuthFailures
			p.b.Receive([]Inbound{{Data: b, Path: p.ab.path, TTL: 255}})
			if p.infoB().Counters.RxAuthFailures != before+1 {
				t.Fatal("bad digest accepted")
			}
			if p.infoB().LocalState != StateUp {
				t.Fatal("rejected packets disturbed the session")
			}
		})
	}
}

// TestAuthSequenceForgottenAfterSilence: after two Detection Times without
// packets any sequence number is accepted again (section 6.7.3), so a
// restarted peer with a new random sequence comes back Up.
func TestAuthSequenceForgottenAfterSilence(t *testing.T) {
	p := authPair(t, AuthMeticulousKeyedSHA1, "k", "k")
	p.mustComeUp()
	p.cut = true
	p.step(2 * time.Second)
	p.cut = false
	// Restart a's sequence far away.
	p.a.mu.Lock()
	p.a.sessions[p.da].xmitAuthSeq += 1 << 31
	p.a.mu.Unlock()
	p.mustComeUp()
}

func TestAuthKeyChangeWithoutFlap(t *testing.T) {
	for _, typ := range allAuthTypes {
		t.Run(typ.String(), func(t *testing.T) {
			p := authPair(t, typ, "old", "old")
			p.mustComeUp()
			ca, _ := p.a.Session(p.da)
			cb, _ := p.b.Session(p.db)
			cfgA, cfgB := ca.Config, cb.Config
			both := []Key{{ID: 1, Secret: []byte("old")}, {ID: 2, Secret: []byte("new")}}
			onlyNew := []Key{{ID: 2, Secret: []byte("new")}}
			steps := []func(){
				func() { cfgA.Auth.Keys = both; cfgB.Auth.Keys = both },
				func() { cfgA.Auth.TxKeyID = 2 },
				func() { cfgB.Auth.TxKeyID = 2 },
				func() { cfgA.Auth.Keys = onlyNew; cfgB.Auth.Keys = onlyNew },
			}
			for _, s := range steps {
				s()
				if err := p.a.UpdateSession(p.da, cfgA); err != nil {
					t.Fatal(err)
				}
				if err := p.b.UpdateSession(p.db, cfgB); err != nil {
					t.Fatal(err)
				}
				p.step(time.Second)
			}
			a, b := p.infoA(), p.infoB()
			if a.DownCount != 0 || b.DownCount != 0 || a.LocalState != StateUp || a.Counters.RxAuthFailures != 0 {
				t.Fatalf("key change flapped: %+v", a)
			}
		})
	}
}
