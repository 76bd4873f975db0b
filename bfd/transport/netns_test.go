package transport

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/tools/netns"
)

// end is one engine with one transport inside a namespace.
type end struct {
	eng *bfd.Engine
	tr  *UDP
}

func startEnd(t *testing.T, ns *netns.NS, cfg Config) *end {
	t.Helper()
	e := &end{eng: bfd.NewEngine(bfd.Options{})}
	if err := ns.Do(func() (err error) {
		e.tr, err = Open(cfg, e.eng)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { e.eng.Run(ctx); done <- struct{}{} }()
	go func() { _ = e.tr.Run(); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		e.tr.Close()
		<-done
		<-done
	})
	return e
}

func (e *end) add(t *testing.T, remote string, tx uint32, minTTL uint8) uint32 {
	t.Helper()
	d, err := e.eng.AddSession(bfd.SessionConfig{
		Path: e.tr.Key(netip.MustParseAddr(remote)), DesiredMinTxInterval: tx, RequiredMinRxInterval: tx,
		DetectMult: 3, MinRxTTL: minTTL,
	}, e.tr)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitState polls until the session reaches st or limit passes.
func waitState(t *testing.T, e *bfd.Engine, d uint32, st bfd.State, limit time.Duration) bfd.SessionInfo {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		i, _ := e.Session(d)
		if i.LocalState == st {
			return i
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %x: state %v after %v, want %v (%+v)", d, i.LocalState, limit, st, i)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func twoNamespaces(t *testing.T) (a, b *netns.NS, ifA, ifB string) {
	a, b = netns.New(t, "bfa"), netns.New(t, "bfb")
	ifA, ifB = netns.Unique("va"), netns.Unique("vb")
	netns.Veth(t, a, ifA, b, ifB)
	a.Addr(t, ifA, "10.77.0.1/24")
	b.Addr(t, ifB, "10.77.0.2/24")
	a.Addr(t, ifA, "fd77::1/64")
	b.Addr(t, ifB, "fd77::2/64")
	return
}

func TestSingleHopIPv4AndIPv6(t *testing.T) {
	nsA, nsB, ifA, ifB := twoNamespaces(t)
	for _, v6 := range []bool{false, true} {
		addrA, addrB := "10.77.0.1", "10.77.0.2"
		if v6 {
			addrA, addrB = "fd77::1", "fd77::2"
		}
		a := startEnd(t, nsA, Config{Kind: bfd.PathSingleHop, Interface: ifA, IPv6: v6})
		b := startEnd(t, nsB, Config{Kind: bfd.PathSingleHop, Interface: ifB, IPv6: v6})
		if p := a.tr.SourcePort(); p < SourcePortMin || p > SourcePortMax {
			t.Fatalf("source port %d", p)
		}
		da := a.add(t, addrB, 100_000, 0)
		db := b.add(t, addrA, 100_000, 0)
		waitState(t, a.eng, da, bfd.StateUp, 10*time.Second)
		waitState(t, b.eng, db, bfd.StateUp, 10*time.Second)
		// Kill b's session: a goes down with diag 3 (AdminDown sent on
		// removal) — and without b at all, with diag 1.
		if err := b.eng.RemoveSession(db); err != nil {
			t.Fatal(err)
		}
		i := waitState(t, a.eng, da, bfd.StateDown, 5*time.Second)
		if i.LocalDiag != bfd.DiagNeighborSignaledSessionDown || i.RemoteDiag != bfd.DiagAdministrativelyDown {
			t.Fatalf("v6=%v: diag %v remote %v", v6, i.LocalDiag, i.RemoteDiag)
		}
		a.tr.Close()
		b.tr.Close()
	}
}

// TestTTLRulesAcrossRouter: a multihop session across a router comes Up
// with a minimum received TTL of 254, and a session demanding 255 drops
// every packet that crossed the router (RFC 5883 section 2).
func TestTTLRulesAcrossRouter(t *testing.T) {
	nsA, nsR, nsB := netns.New(t, "bfa"), netns.New(t, "bfr"), netns.New(t, "bfb")
	ifA, ifRA, ifRB, ifB := netns.Unique("va"), netns.Unique("ra"), netns.Unique("rb"), netns.Unique("vb")
	netns.Veth(t, nsA, ifA, nsR, ifRA)
	netns.Veth(t, nsR, ifRB, nsB, ifB)
	nsA.Addr(t, ifA, "10.78.1.2/24")
	nsR.Addr(t, ifRA, "10.78.1.1/24")
	nsR.Addr(t, ifRB, "10.78.2.1/24")
	nsB.Addr(t, ifB, "10.78.2.2/24")
	nsR.Must(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	nsA.Must(t, "ip", "route", "add", "default", "via", "10.78.1.1")
	nsB.Must(t, "ip", "route", "add", "default", "via", "10.78.2.1")

	a := startEnd(t, nsA, Config{Kind: bfd.PathMultiHop, Local: netip.MustParseAddr("10.78.1.2")})
	b := startEnd(t, nsB, Config{Kind: bfd.PathMultiHop, Local: netip.MustParseAddr("10.78.2.2")})
	da := a.add(t, "10.78.2.2", 100_000, 254)
	db := b.add(t, "10.78.1.2", 100_000, 254)
	waitState(t, a.eng, da, bfd.StateUp, 10*time.Second)
	waitState(t, b.eng, db, bfd.StateUp, 10*time.Second)

	// A peer demanding TTL 255 across one hop never sees a valid packet.
	c := startEnd(t, nsB, Config{Kind: bfd.PathMultiHop, Local: netip.MustParseAddr("10.78.2.2"), Port: 4785})
	ca := startEnd(t, nsA, Config{Kind: bfd.PathMultiHop, Local: netip.MustParseAddr("10.78.1.2"), Port: 4785})
	dc := c.add(t, "10.78.1.2", 100_000, 255)
	ca.add(t, "10.78.2.2", 100_000, 0)
	time.Sleep(3 * time.Second)
	i, _ := c.eng.Session(dc)
	if i.LocalState == bfd.StateUp || i.Counters.RxDropped == 0 || i.Counters.RxPackets != 0 {
		t.Fatalf("min TTL 255 across a router: %+v", i)
	}
	t.Logf("dropped for TTL: %d", i.Counters.RxDropped)
}
