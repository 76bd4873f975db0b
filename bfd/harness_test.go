package bfd

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// memWire is an in-memory Sender: packets queue until the test delivers them.
type memWire struct {
	out []Inbound
	// drop, when set, decides per packet (counted from 1) to lose it.
	drop func(n int, pkt []byte) bool
	n    int
	path PathKey // as the receiver sees the sender
	ttl  uint8
}

func (w *memWire) Send(_ PathKey, pkt []byte) error {
	w.n++
	if w.drop != nil && w.drop(w.n, pkt) {
		return nil
	}
	w.out = append(w.out, Inbound{Data: append([]byte(nil), pkt...), Path: w.path, TTL: w.ttl})
	return nil
}

// pair is two engines wired back to back over in-memory wires, on one
// manual clock.
type pair struct {
	t      *testing.T
	clock  *ManualClock
	a, b   *Engine
	ab, ba *memWire // a's packets to b, b's to a
	da, db uint32
	ca, cb []Change
	cut    bool // when set, packets are lost in both directions
}

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
)

func pathAt(local, remote netip.Addr) PathKey {
	return PathKey{Kind: PathSingleHop, Interface: "veth0", Local: local, Remote: remote}
}

func baseConfig(local, remote netip.Addr, tx, rx uint32, mult uint8) SessionConfig {
	return SessionConfig{Path: pathAt(local, remote), DesiredMinTxInterval: tx, RequiredMinRxInterval: rx, DetectMult: mult}
}

func newPair(t *testing.T, ca, cb SessionConfig) *pair {
	t.Helper()
	p := &pair{t: t, clock: &ManualClock{T: time.Unix(1_700_000_000, 0)}}
	p.a = NewEngine(Options{Clock: p.clock, Seed: 1, OnChange: func(c Change) { p.ca = append(p.ca, c) }})
	p.b = NewEngine(Options{Clock: p.clock, Seed: 2, OnChange: func(c Change) { p.cb = append(p.cb, c) }})
	// What b sees from a is keyed by b's view of the path, and vice versa.
	p.ab = &memWire{path: cb.Path, ttl: 255}
	p.ba = &memWire{path: ca.Path, ttl: 255}
	var err error
	if p.da, err = p.a.AddSession(ca, p.ab); err != nil {
		t.Fatal(err)
	}
	if p.db, err = p.b.AddSession(cb, p.ba); err != nil {
		t.Fatal(err)
	}
	return p
}

// step advances virtual time by d in increments of 1 ms, running timers
// and delivering packets in between.
func (p *pair) step(d time.Duration) {
	for end := p.clock.T.Add(d); p.clock.T.Before(end); {
		p.clock.Advance(time.Millisecond)
		p.a.Advance()
		p.b.Advance()
		p.deliver()
	}
}

func (p *pair) deliver() {
	for len(p.ab.out) > 0 || len(p.ba.out) > 0 {
		ab, ba := p.ab.out, p.ba.out
		p.ab.out, p.ba.out = nil, nil
		if !p.cut {
			p.b.Receive(ab)
			p.a.Receive(ba)
		}
	}
}

// until steps until cond holds or limit passes; false on timeout.
func (p *pair) until(limit time.Duration, cond func() bool) bool {
	for end := p.clock.T.Add(limit); p.clock.T.Before(end); {
		if cond() {
			return true
		}
		p.step(time.Millisecond)
	}
	return cond()
}

func (p *pair) infoA() SessionInfo { i, _ := p.a.Session(p.da); return i }
func (p *pair) infoB() SessionInfo { i, _ := p.b.Session(p.db); return i }

func (p *pair) bothUp() bool {
	return p.infoA().LocalState == StateUp && p.infoB().LocalState == StateUp
}

func (p *pair) mustComeUp() {
	p.t.Helper()
	if !p.until(10*time.Second, p.bothUp) {
		p.t.Fatalf("sessions not Up: a=%v b=%v", p.infoA().LocalState, p.infoB().LocalState)
	}
}

// decode decodes a captured packet or fails the test.
func decode(t *testing.T, b []byte) Packet {
	t.Helper()
	var p Packet
	if err := p.Decode(b, DecodeOptions{}); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return p
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
