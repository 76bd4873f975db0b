package bfd

import (
	"net/netip"
	"testing"
	"time"
)

// tunnel is the in-memory stand-in for the softwire engine: it carries
// each end's packets to the other with the path the receiver would build
// from the outer IPv6 header.

type tunnelNet struct {
	engines map[netip.Addr]*Engine
	queue   []struct {
		to *Engine
		in Inbound
	}
}

type tunnelEnd struct {
	net  *tunnelNet
	self netip.Addr
}

func (t *tunnelEnd) Send(key PathKey, pkt []byte) error {
	to := t.net.engines[key.Remote]
	t.net.queue = append(t.net.queue, struct {
		to *Engine
		in Inbound
	}{to, Inbound{Data: append([]byte(nil), pkt...), Path: PathKey{Kind: PathSoftwire, Local: key.Remote, Remote: t.self}, TTL: 255}})
	return nil
}

func TestSoftwireDynamicSessionsByB4Address(t *testing.T) {
	clk := &ManualClock{T: time.Unix(0, 0)}
	aftrAddr := netip.MustParseAddr("2001:db8::a")
	b4s := []netip.Addr{netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:2::1")}
	n := &tunnelNet{engines: map[netip.Addr]*Engine{}}
	aftr := NewEngine(Options{Clock: clk, Seed: 5})
	n.engines[aftrAddr] = aftr
	var created []DynamicCreated
	tmpl := SessionConfig{DesiredMinTxInterval: 1_000_000, RequiredMinRxInterval: 1_000_000, DetectMult: 3}
	if err := aftr.EnableDynamic(PathSoftwire, tmpl, &tunnelEnd{net: n, self: aftrAddr}, 1, func(c DynamicCreated) { created = append(created, c) }); err != nil {
		t.Fatal(err)
	}
	var b4Engines []*Engine
	var b4Discrs []uint32
	for i, a := range b4s {
		e := NewEngine(Options{Clock: clk, Seed: uint64(10 + i)})
		n.engines[a] = e
		d, err := e.AddSession(SessionConfig{Path: PathKey{Kind: PathSoftwire, Local: a, Remote: aftrAddr},
			DesiredMinTxInterval: 1_000_000, RequiredMinRxInterval: 1_000_000, DetectMult: 3}, &tunnelEnd{net: n, self: a})
		if err != nil {
			t.Fatal(err)
		}
		b4Engines, b4Discrs = append(b4Engines, e), append(b4Discrs, d)
	}
	step := func(d time.Duration) {
		for end := clk.T.Add(d); clk.T.Before(end); {
			clk.Advance(10 * time.Millisecond)
			for _, e := range n.engines {
				e.Advance()
			}
			for len(n.queue) > 0 {
				q := n.queue
				n.queue = nil
				for _, x := range q {
					x.to.Receive([]Inbound{x.in})
				}
			}
		}
	}
	step(5 * time.Second)
	// The limit of one dynamic session: only the B4 heard first got one
	// (which one depends on the order the simulation steps the engines).
	if len(created) != 1 {
		t.Fatalf("created %+v", created)
	}
	first, second := 0, 1
	if created[0].Path.Remote == b4s[1] {
		first, second = 1, 0
	} else if created[0].Path.Remote != b4s[0] {
		t.Fatalf("created %+v", created)
	}
	if i, _ := b4Engines[first].Session(b4Discrs[first]); i.LocalState != StateUp {
		t.Fatalf("first B4: %v", i.LocalState)
	}
	if i, _ := b4Engines[second].Session(b4Discrs[second]); i.LocalState == StateUp {
		t.Fatal("second B4 came up beyond the dynamic limit")
	}
	if c := aftr.Counters(); c.RxNoSession == 0 {
		t.Fatal("refused packets not counted")
	}
	// Raise the limit: the second B4 gets its own session.
	if err := aftr.EnableDynamic(PathSoftwire, tmpl, &tunnelEnd{net: n, self: aftrAddr}, 10, func(c DynamicCreated) { created = append(created, c) }); err != nil {
		t.Fatal(err)
	}
	step(5 * time.Second)
	if i, _ := b4Engines[second].Session(b4Discrs[second]); i.LocalState != StateUp || len(created) != 2 || created[1].Path.Remote != b4s[second] {
		t.Fatalf("second B4: %v, created %+v", i.LocalState, created)
	}
	info, _ := aftr.Session(created[1].Discr)
	if !info.Dynamic || !info.Config.Passive || info.Config.Path.Remote != b4s[second] {
		t.Fatalf("dynamic session %+v", info)
	}
	// A dead B4 takes its session Down with diag 1 at the AFTR.
	delete(n.engines, b4s[first])
	n.engines[b4s[first]] = NewEngine(Options{Clock: clk}) // a silent box at that address
	step(5 * time.Second)
	if i, _ := aftr.Session(created[0].Discr); i.LocalState != StateDown || i.LocalDiag != DiagControlDetectionTimeExpired {
		t.Fatalf("AFTR's session for the dead B4: %v %v", i.LocalState, i.LocalDiag)
	}
}
