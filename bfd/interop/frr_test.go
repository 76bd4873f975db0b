package interop

import (
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/tools/frr"
	"github.com/wirebeat/wirebeat/tools/netns"
)

// frrCase is one kind of session tested against bfdd.
type frrCase struct {
	name    string
	ours    string // our address as bfdd sees it
	theirs  string
	frrPeer string // bfdd's "peer ..." line
	tr      *transport.UDP
	discr   uint32
}

// TestFRRInterop runs single-hop IPv4, single-hop IPv6 and multihop IPv4
// sessions between our engine (namespace A) and FRR bfdd (namespace B) over
// a veth pair; the multihop session runs between loopback addresses routed
// over the link.
//
// Detection times stay at 3 s or more at every step (multiplier 15 here,
// 10 and then 20 at bfdd): what is proven is the protocol's exchanges, and
// a shorter detection time lets a loaded machine's scheduling delay pass
// for a flap in the steps that assert there was none.
func TestFRRInterop(t *testing.T) {
	nsA, nsB := netns.New(t, "wbA"), netns.New(t, "frB")
	ifA, ifB := netns.Unique("wa"), netns.Unique("fb")
	netns.Veth(t, nsA, ifA, nsB, ifB)
	nsA.Addr(t, ifA, "10.80.0.1/24")
	nsB.Addr(t, ifB, "10.80.0.2/24")
	nsA.Addr(t, ifA, "fd80::1/64")
	nsB.Addr(t, ifB, "fd80::2/64")
	nsA.Addr(t, "lo", "10.81.0.1/32")
	nsB.Addr(t, "lo", "10.81.0.2/32")
	nsA.Must(t, "ip", "route", "add", "10.81.0.2/32", "via", "10.80.0.2")
	nsB.Must(t, "ip", "route", "add", "10.81.0.1/32", "via", "10.80.0.1")

	cases := []*frrCase{
		{name: "single-hop-ipv4", ours: "10.80.0.1", theirs: "10.80.0.2",
			frrPeer: fmt.Sprintf("peer 10.80.0.1 interface %s", ifB)},
		{name: "single-hop-ipv6", ours: "fd80::1", theirs: "fd80::2",
			frrPeer: fmt.Sprintf("peer fd80::1 interface %s", ifB)},
		{name: "multihop-ipv4", ours: "10.81.0.1", theirs: "10.81.0.2",
			frrPeer: "peer 10.81.0.1 multihop local-address 10.81.0.2"},
	}
	conf := "bfd\n"
	for _, c := range cases {
		conf += " " + c.frrPeer + "\n  receive-interval 300\n  transmit-interval 300\n  detect-multiplier 10\n !\n"
	}
	conf += "!\n"
	frrd := frr.Start(t, nsB, conf)

	eng := startEngine(t, nsA, bfd.Options{Log: slog.New(testLog{t})})
	sh4 := eng.transport(transport.Config{Kind: bfd.PathSingleHop, Interface: ifA})
	sh6 := eng.transport(transport.Config{Kind: bfd.PathSingleHop, Interface: ifA, IPv6: true})
	mh := eng.transport(transport.Config{Kind: bfd.PathMultiHop, Local: netip.MustParseAddr("10.81.0.1")})
	for i, tr := range []*transport.UDP{sh4, sh6, mh} {
		c := cases[i]
		c.tr = tr
		c.discr = eng.session(tr, c.theirs, bfd.SessionConfig{
			DesiredMinTxInterval: 300_000, RequiredMinRxInterval: 300_000, DetectMult: 15, MinRxTTL: 254,
		})
	}
	frrStatus := func(c *frrCase) frr.Peer {
		p, err := frrd.PeerFor(t, c.ours)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	for _, c := range cases {
		t.Run(c.name+"/up", func(t *testing.T) {
			waitFor(t, 15*time.Second, "both ends Up", func() bool {
				return eng.info(c.discr).LocalState == bfd.StateUp && frrStatus(c).Status == "up"
			})
			i := eng.info(c.discr)
			if i.RemoteDiscr != frrStatus(c).ID {
				t.Fatalf("our remote discriminator %d, bfdd's id %d", i.RemoteDiscr, frrStatus(c).ID)
			}
		})
	}

	for _, c := range cases {
		t.Run(c.name+"/frr-changes-intervals", func(t *testing.T) {
			before := eng.info(c.discr)
			frrd.Vtysh(t, "configure terminal", "bfd", c.frrPeer, "transmit-interval 150", "receive-interval 200", "detect-multiplier 20")
			waitFor(t, 10*time.Second, "our session to follow bfdd's new intervals", func() bool {
				i := eng.info(c.discr)
				return i.RemoteMinTxInterval == 150_000 && i.RemoteMinRxInterval == 200_000 && i.RemoteMultiplier == 20 &&
					i.NegotiatedTxInterval == 300_000 && i.DetectionTime == 20*300_000
			})
			// Now ours speeds up to meet them; bfdd follows through our
			// Poll. Detection times: ours 20 x 150 ms, bfdd's 15 x 200 ms.
			cfg := before.Config
			cfg.DesiredMinTxInterval, cfg.RequiredMinRxInterval = 200_000, 150_000
			if err := eng.UpdateSession(c.discr, cfg); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "bfdd to follow our new intervals", func() bool {
				p := frrStatus(c)
				i := eng.info(c.discr)
				return p.RemoteTransmitInterval == 200 && p.RemoteReceiveInterval == 150 && !i.PollActive &&
					i.NegotiatedTxInterval == 200_000 && i.NegotiatedRxInterval == 150_000
			})
			after := eng.info(c.discr)
			if after.DownCount != before.DownCount || after.UpCount != before.UpCount || after.LocalState != bfd.StateUp {
				t.Fatalf("flapped while intervals changed: up %d->%d down %d->%d", before.UpCount, after.UpCount, before.DownCount, after.DownCount)
			}
		})
	}

	for _, c := range cases {
		t.Run(c.name+"/frr-admin-down", func(t *testing.T) {
			frrd.Vtysh(t, "configure terminal", "bfd", c.frrPeer, "shutdown")
			waitFor(t, 10*time.Second, "our session Down, peer AdminDown", func() bool {
				i := eng.info(c.discr)
				return i.LocalState == bfd.StateDown && i.RemoteState == bfd.StateAdminDown
			})
			i := eng.info(c.discr)
			if i.LocalDiag != bfd.DiagNeighborSignaledSessionDown {
				t.Fatalf("our diag %v, want neighbor-signaled-session-down", i.LocalDiag)
			}
			// bfdd 8.4 sends AdminDown with Diag 0 on the wire; its own
			// view says administratively down.
			t.Logf("bfdd's AdminDown packets carry diag %v; bfdd reports its diagnostic %q", i.RemoteDiag, frrStatus(c).Diagnostic)
			frrd.Vtysh(t, "configure terminal", "bfd", c.frrPeer, "no shutdown")
			waitFor(t, 15*time.Second, "Up again", func() bool { return eng.info(c.discr).LocalState == bfd.StateUp })
		})
		t.Run(c.name+"/our-admin-down", func(t *testing.T) {
			cfg := eng.info(c.discr).Config
			cfg.AdminDown = true
			if err := eng.UpdateSession(c.discr, cfg); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "bfdd to see diag 7 from us", func() bool {
				p := frrStatus(c)
				return p.Status == "down" && p.RemoteDiagnostic == "administratively down"
			})
			cfg.AdminDown = false
			if err := eng.UpdateSession(c.discr, cfg); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 15*time.Second, "Up again", func() bool {
				return eng.info(c.discr).LocalState == bfd.StateUp && frrStatus(c).Status == "up"
			})
		})
	}

	t.Run("frr-killed", func(t *testing.T) {
		for _, c := range cases {
			if eng.info(c.discr).LocalState != bfd.StateUp {
				t.Fatalf("%s not Up before the kill", c.name)
			}
		}
		killed := time.Now()
		frrd.KillBFDD(t)
		downAt := map[string]time.Duration{}
		waitFor(t, 10*time.Second, "all sessions Down", func() bool {
			for _, c := range cases {
				if _, ok := downAt[c.name]; !ok && eng.info(c.discr).LocalState == bfd.StateDown {
					downAt[c.name] = time.Since(killed)
				}
			}
			return len(downAt) == len(cases)
		})
		for _, c := range cases {
			i := eng.info(c.discr)
			if i.LocalDiag != bfd.DiagControlDetectionTimeExpired {
				t.Errorf("%s: diag %v, want control-detection-time-expired", c.name, i.LocalDiag)
			}
			t.Logf("%s: Down %v after bfdd was killed (detection time %v)", c.name, downAt[c.name].Round(time.Millisecond),
				time.Duration(i.DetectionTime)*time.Microsecond)
		}
	})
}
