package bfd

import (
	"testing"
	"time"
)

// FuzzEngineReceive feeds arbitrary bytes to sessions of every
// authentication flavour and the stability extension: nothing may panic,
// and a session may only change on a packet it accepted.
func FuzzEngineReceive(f *testing.F) {
	seed := Packet{State: StateDown, DetectMult: 3, MyDiscriminator: 1, DesiredMinTxInterval: 1, RequiredMinRxInterval: 1}
	f.Add(seed.AppendEncode(nil), uint8(0))
	seed.Auth = Auth{Type: AuthNull, KeyID: NullAuthLossAndDelay, Seq: 5, Timestamp: 7}
	f.Add(seed.AppendEncode(nil), uint8(5))
	seed.Auth = Auth{Type: AuthMeticulousKeyedSHA1, KeyID: 1, Seq: 9}
	f.Add(seed.AppendEncode(nil), uint8(4))
	f.Fuzz(func(t *testing.T, b []byte, flavour uint8) {
		clk := &ManualClock{T: time.Unix(0, 0)}
		e := NewEngine(Options{Clock: clk, Seed: 1})
		c := baseConfig(addrA, addrB, 100_000, 100_000, 3)
		switch flavour % 7 {
		case 1, 2, 3, 4, 5:
			c.Auth = AuthConfig{Type: AuthType(flavour % 7), TxKeyID: 1, Keys: []Key{{ID: 1, Secret: []byte("k")}}}
		case 6:
			c.Stability = StabilityConfig{Enabled: true, Delay: true}
		}
		d, err := e.AddSession(c, &memWire{})
		if err != nil {
			t.Fatal(err)
		}
		before, _ := e.Session(d)
		e.Receive([]Inbound{{Data: b, Path: c.Path, TTL: 255}})
		clk.Advance(time.Second)
		e.Advance()
		after, _ := e.Session(d)
		if after.Counters.RxPackets == before.Counters.RxPackets && after.RemoteDiscr != before.RemoteDiscr {
			t.Fatalf("rejected packet changed the session: %+v", after)
		}
	})
}
