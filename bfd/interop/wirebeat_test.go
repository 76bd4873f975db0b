package interop

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// startReflector serves an S-BFD reflector from namespace ns.
func startReflector(t *testing.T, ns *netns.NS, discrs ...uint32) *bfd.Reflector {
	t.Helper()
	refl := bfd.NewReflector(bfd.ReflectorConfig{Discriminators: discrs})
	var r *transport.Reflector
	if err := ns.Do(func() (err error) {
		r, err = transport.OpenReflector(transport.ReflectorConfig{}, refl)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = r.Run(); close(done) }()
	t.Cleanup(func() { r.Close(); <-done })
	return refl
}

// TestSBFDBetweenElements: initiators in A, reflectors in B and C that both
// hold the anycast address 10.90.9.9. Two initiators share the target and
// the discriminator (REQ 8), a third uses a discriminator only B has.
// Moving the anycast route from B to C keeps the shared-discriminator
// initiators Up (REQ 6: answered by whichever element receives them) and
// takes the B-only one Down with diag 1.
func TestSBFDBetweenElements(t *testing.T) {
	nsA, nsB, nsC := netns.New(t, "sbA"), netns.New(t, "sbB"), netns.New(t, "sbC")
	ab, ba, ac, ca := netns.Unique("ab"), netns.Unique("ba"), netns.Unique("ac"), netns.Unique("ca")
	netns.Veth(t, nsA, ab, nsB, ba)
	netns.Veth(t, nsA, ac, nsC, ca)
	nsA.Addr(t, ab, "10.90.1.1/24")
	nsB.Addr(t, ba, "10.90.1.2/24")
	nsA.Addr(t, ac, "10.90.2.1/24")
	nsC.Addr(t, ca, "10.90.2.2/24")
	nsB.Addr(t, "lo", "10.90.9.9/32")
	nsC.Addr(t, "lo", "10.90.9.9/32")
	nsA.Must(t, "ip", "route", "add", "10.90.9.9/32", "via", "10.90.1.2")

	reflB := startReflector(t, nsB, 0x1000, 0x2000)
	reflC := startReflector(t, nsC, 0x1000)

	eng := startEngine(t, nsA, bfd.Options{})
	tr := eng.transport(transport.Config{Kind: bfd.PathSBFD})
	init := func(remote, tx uint32) uint32 {
		return eng.session(tr, "10.90.9.9", bfd.SessionConfig{DesiredMinTxInterval: tx, RequiredMinRxInterval: tx,
			DetectMult: 3, SBFDRemoteDiscr: remote})
	}
	shared1, shared2, onlyB := init(0x1000, 50_000), init(0x1000, 100_000), init(0x2000, 50_000)
	for _, d := range []uint32{shared1, shared2, onlyB} {
		waitFor(t, 10*time.Second, fmt.Sprintf("initiator %x Up", d), func() bool { return eng.info(d).LocalState == bfd.StateUp })
	}
	if reflB.Counters().TxPackets == 0 || reflC.Counters().TxPackets != 0 {
		t.Fatalf("before the route move: B answered %d, C %d", reflB.Counters().TxPackets, reflC.Counters().TxPackets)
	}

	nsA.Must(t, "ip", "route", "replace", "10.90.9.9/32", "via", "10.90.2.2")
	waitFor(t, 10*time.Second, "the B-only initiator Down", func() bool {
		i := eng.info(onlyB)
		return i.LocalState == bfd.StateDown && i.LocalDiag == bfd.DiagControlDetectionTimeExpired
	})
	waitFor(t, 10*time.Second, "C answering", func() bool { return reflC.Counters().TxPackets > 10 })
	for _, d := range []uint32{shared1, shared2} {
		// The move is faster than a detection time at these rates only
		// by luck; what matters is that C's answers hold it Up.
		waitFor(t, 10*time.Second, "shared initiator Up via C", func() bool { return eng.info(d).LocalState == bfd.StateUp })
	}
	if c := reflC.Counters(); c.RxUnknownDiscriminator == 0 {
		t.Fatalf("C never refused the discriminator it lacks: %+v", c)
	}
}

// TestStabilityWithInducedLoss: single-hop sessions with the stability
// extension between two elements; nftables in A drops every 5th BFD packet
// A sends for a while. B's lost count equals the packets nftables dropped,
// exactly, with no duplicates or reordering, and the session never goes
// down.
//
// The 50 ms interval is what is measured (many sequence numbers and delay
// samples in a short run), so it stays; the detection time is not, so the
// multiplier gives 3 s: a session of 150 ms is taken down by 150 ms of
// scheduling delay on a loaded 2-core machine, which says nothing about
// the loss counting. That a single lost packet never takes a multiplier-3
// session down is proven on a simulated clock by the bfd package's
// TestStabilityBetweenEngines.
func TestStabilityWithInducedLoss(t *testing.T) {
	testenv.Tool(t, "nft", "nftables")
	nsA, nsB := netns.New(t, "stA"), netns.New(t, "stB")
	ifA, ifB := netns.Unique("sa"), netns.Unique("sb")
	netns.Veth(t, nsA, ifA, nsB, ifB)
	nsA.Addr(t, ifA, "10.91.0.1/24")
	nsB.Addr(t, ifB, "10.91.0.2/24")

	a, b := startEngine(t, nsA, bfd.Options{}), startEngine(t, nsB, bfd.Options{})
	trA := a.transport(transport.Config{Kind: bfd.PathSingleHop, Interface: ifA})
	trB := b.transport(transport.Config{Kind: bfd.PathSingleHop, Interface: ifB})
	cfg := bfd.SessionConfig{DesiredMinTxInterval: 50_000, RequiredMinRxInterval: 50_000, DetectMult: 60,
		Stability: bfd.StabilityConfig{Enabled: true, Delay: true}}
	da := a.session(trA, "10.91.0.2", cfg)
	db := b.session(trB, "10.91.0.1", cfg)
	waitFor(t, 10*time.Second, "Up", func() bool {
		return a.info(da).LocalState == bfd.StateUp && b.info(db).LocalState == bfd.StateUp
	})
	before := b.info(db).Stability.Lost

	nsA.Must(t, "nft", "add table inet wbloss")
	nsA.Must(t, "nft", "add counter inet wbloss dropped")
	nsA.Must(t, "nft", "add chain inet wbloss out { type filter hook output priority 0 ; }")
	nsA.Must(t, "nft", "add rule inet wbloss out udp dport 3784 numgen inc mod 5 == 0 counter name dropped drop")
	time.Sleep(3 * time.Second)
	nsA.Must(t, "nft", "flush chain inet wbloss out")
	out := nsA.Must(t, "nft", "-j", "list counter inet wbloss dropped")
	dropped := nftCounter(t, out)
	// Every packet nftables dropped carries a sequence number at most
	// lastDroppable (it went through the hook before the flush). A gap is
	// counted when the next packet after it arrives, so wait for one sent
	// after that rather than for a fixed time.
	lastDroppable := a.info(da).StabilityTxSeq
	waitFor(t, 10*time.Second, "B to receive a packet sent after the rule was removed", func() bool {
		return int32(b.info(db).Stability.RxSeq-lastDroppable) > 0
	})

	ib := b.info(db)
	lost := ib.Stability.Lost - before
	t.Logf("nftables dropped %d packets; B counted %d lost, %d duplicate, %d reordered; delay min/avg/max/last %d/%d/%d/%d µs",
		dropped, lost, ib.Stability.Duplicate, ib.Stability.OutOfOrder,
		ib.Stability.DelayMin, ib.Stability.DelayAvg, ib.Stability.DelayMax, ib.Stability.DelayLast)
	if dropped == 0 || lost != dropped {
		t.Fatalf("B counted %d lost, nftables dropped %d", lost, dropped)
	}
	if ib.DownCount != 0 || ib.Stability.Duplicate != 0 || ib.Stability.OutOfOrder != 0 {
		t.Fatalf("flap or miscount: %+v", ib)
	}
	if ib.Stability.DelayMax < 37_000 || ib.Stability.DelayMin == 0 {
		t.Fatalf("delays %+v", ib.Stability)
	}
}

func nftCounter(t *testing.T, js string) uint64 {
	t.Helper()
	var doc struct {
		Nftables []struct {
			Counter *struct {
				Packets uint64 `json:"packets"`
			} `json:"counter"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("nft json: %v\n%s", err, js)
	}
	for _, x := range doc.Nftables {
		if x.Counter != nil {
			return x.Counter.Packets
		}
	}
	t.Fatalf("no counter in %s", js)
	return 0
}
