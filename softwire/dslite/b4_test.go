package dslite

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

var (
	aftr1  = netip.MustParseAddr("2001:db8:a::1")
	aftr2  = netip.MustParseAddr("2001:db8:b::1")
	b4Self = netip.MustParseAddr("2001:db8:100::a")
)

func newTestB4(t *testing.T, mod func(*B4Config)) (*B4, *capture, *[]FailoverEvent) {
	t.Helper()
	var evs []FailoverEvent
	cfg := B4Config{Address: b4Self, AFTRs: []AFTREntry{{aftr2, 20}, {aftr1, 10}}, HoldDown: 30 * time.Second,
		OnFailover: func(e FailoverEvent) { evs = append(evs, e) }}
	if mod != nil {
		mod(&cfg)
	}
	c := &capture{}
	b, err := NewB4(cfg, c, t0)
	if err != nil {
		t.Fatal(err)
	}
	return b, c, &evs
}

func TestB4EncapDecap(t *testing.T) {
	b, c, _ := newTestB4(t, nil)
	if a, ok := b.Active(); !ok || a != aftr1 {
		t.Fatalf("active %v, want the preferred %v", a, aftr1)
	}
	p := pkt4{src: host, dst: remote, proto: 17, sport: 1, dport: 2, payload: []byte("x")}.bytes()
	p[1] = 0xb8 // EF: the tunnel keeps the class
	netpkt.SetIPv4Checksum(p)
	b.FromLAN(bytes.Clone(p))
	if len(c.v6) != 1 {
		t.Fatal("not encapsulated")
	}
	o := c.v6[0]
	if netip.AddrFrom16([16]byte(o[8:24])) != b4Self || netip.AddrFrom16([16]byte(o[24:40])) != aftr1 || o[6] != 4 || netpkt.TrafficClass(o) != 0xb8 {
		t.Fatalf("encapsulation %x", o[:40])
	}
	checkIPv4(t, o[40:])
	if o[40+8] != 63 {
		t.Fatal("TTL not decremented")
	}
	// The return from either AFTR is decapsulated; from elsewhere not.
	back := pkt4{src: remote, dst: host, proto: 17, sport: 2, dport: 1}.bytes()
	b.FromWAN(encap6(aftr2, b4Self, bytes.Clone(back)))
	b.FromWAN(encap6(netip.MustParseAddr("2001:db8:c::1"), b4Self, bytes.Clone(back)))
	b.FromWAN(encap6(aftr1, netip.MustParseAddr("2001:db8:100::b"), bytes.Clone(back)))
	if len(c.v4) != 1 || b.C.DropNotFromAFTR != 2 {
		t.Fatalf("decap: %d out, %d refused", len(c.v4), b.C.DropNotFromAFTR)
	}
	checkIPv4(t, c.v4[0])
	// Big packets are fragmented after encapsulation.
	c.reset()
	b.FromLAN(pkt4{src: host, dst: remote, proto: 17, sport: 1, dport: 2, payload: make([]byte, 1472)}.bytes())
	if len(c.v6) != 2 || len(c.v6[0]) > 1500 {
		t.Fatalf("%d packets for 1500 bytes + tunnel", len(c.v6))
	}
}

func TestB4FailoverNonRevertive(t *testing.T) {
	b, c, evs := newTestB4(t, nil)
	b.SetStatus(aftr1, StatusReachable, t0.Add(time.Second))
	b.SetStatus(aftr2, StatusReachable, t0.Add(time.Second))
	b.SetStatus(aftr1, StatusUnreachable, t0.Add(10*time.Second))
	if a, _ := b.Active(); a != aftr2 {
		t.Fatalf("active %v after AFTR1 went down", a)
	}
	last := (*evs)[len(*evs)-1]
	if last.From != aftr1 || last.To != aftr2 || last.Reason != ReasonBFDDown {
		t.Fatalf("event %+v", last)
	}
	b.FromLAN(pkt4{src: host, dst: remote, proto: 17, sport: 1, dport: 2}.bytes())
	if netip.AddrFrom16([16]byte(c.v6[0][24:40])) != aftr2 {
		t.Fatal("traffic not on AFTR2")
	}
	// AFTR1 comes back: non-revertive stays.
	b.SetStatus(aftr1, StatusReachable, t0.Add(20*time.Second))
	b.Advance(t0.Add(200 * time.Second))
	if a, _ := b.Active(); a != aftr2 {
		t.Fatal("non-revertive B4 moved back")
	}
	// Both down: no AFTR, traffic dropped and counted.
	b.SetStatus(aftr1, StatusUnreachable, t0.Add(300*time.Second))
	b.SetStatus(aftr2, StatusUnreachable, t0.Add(300*time.Second))
	if _, ok := b.Active(); ok {
		t.Fatal("an unreachable AFTR is active")
	}
	b.FromLAN(pkt4{src: host, dst: remote, proto: 17, sport: 1, dport: 2}.bytes())
	if b.C.DropNoAFTR != 1 {
		t.Fatal("no-AFTR drop not counted")
	}
	if n, _ := b.Failovers(); n != 2 {
		t.Fatalf("%d failovers", n)
	}
}

func TestB4FailoverRevertive(t *testing.T) {
	b, _, evs := newTestB4(t, func(c *B4Config) { c.Policy = Revertive })
	b.SetStatus(aftr1, StatusUnreachable, t0)
	if a, _ := b.Active(); a != aftr2 {
		t.Fatal("not on AFTR2")
	}
	b.SetStatus(aftr1, StatusReachable, t0.Add(100*time.Second))
	b.Advance(t0.Add(129 * time.Second))
	if a, _ := b.Active(); a != aftr2 {
		t.Fatal("reverted before the hold-down")
	}
	b.Advance(t0.Add(131 * time.Second))
	if a, _ := b.Active(); a != aftr1 {
		t.Fatal("did not revert after the hold-down")
	}
	last := (*evs)[len(*evs)-1]
	if last.From != aftr2 || last.To != aftr1 || last.Reason != ReasonBFDUp {
		t.Fatalf("event %+v", last)
	}
}

// TestB4Discovered: a discovered AFTR joins the configured list; the
// configured preference wins for an address in both; a B4 with nothing
// configured uses the discovered one.
func TestB4Discovered(t *testing.T) {
	b, _, _ := newTestB4(t, func(c *B4Config) { c.AFTRs = nil })
	if _, ok := b.Active(); ok {
		t.Fatal("active AFTR with none known")
	}
	disc := netip.MustParseAddr("2001:db8:d::1")
	b.SetDiscovered("aftr.example.net", []netip.Addr{disc}, t0)
	if a, _ := b.Active(); a != disc {
		t.Fatalf("active %v, want discovered %v", a, disc)
	}
	if err := b.SetAFTRs([]AFTREntry{{aftr1, 10}, {disc, 200}}, t0); err != nil {
		t.Fatal(err)
	}
	infos := b.AFTRs()
	if len(infos) != 2 || infos[0].Addr != aftr1 || infos[1].Addr != disc || !infos[1].Discovered || !infos[1].Configured || infos[1].Preference != 200 {
		t.Fatalf("AFTRs %+v", infos)
	}
	// Non-revertive: the discovered one stays active, being usable.
	if a, _ := b.Active(); a != disc {
		t.Fatalf("active %v", a)
	}
	b.SetDiscovered("aftr.example.net", nil, t0)
	if infos := b.AFTRs(); len(infos) != 2 || infos[1].Discovered {
		t.Fatalf("after the name went: %+v", infos)
	}
	if err := b.SetAFTRs([]AFTREntry{{netip.MustParseAddr("192.0.2.1"), 1}}, t0); err == nil {
		t.Fatal("IPv4 AFTR accepted")
	}
}

// TestB4AFTRRoundTrip runs a B4 against an AFTR in process: the LAN
// host's packets are translated, the answers come back.
func TestB4AFTRRoundTrip(t *testing.T) {
	a, ac := newTestAFTR(t, nil)
	b, bc, _ := newTestB4(t, func(c *B4Config) { c.AFTRs = []AFTREntry{{aftrAddr, 1}} })
	b.FromLAN(pkt4{src: host, dst: remote, proto: 6, sport: 5555, dport: 80, tcpFlags: 2}.bytes())
	a.FromB4(bc.v6[0])
	if len(ac.v4) != 1 || !testPool.Contains(addr4(ac.v4[0][12:])) {
		t.Fatal("not translated")
	}
	out := ac.v4[0]
	a.FromInternet(pkt4{src: remote, dst: addr4(out[12:]), proto: 6, sport: 80, dport: be.Uint16(out[20:]), tcpFlags: 0x12}.bytes())
	b.FromWAN(ac.v6[0])
	if len(bc.v4) != 1 || addr4(bc.v4[0][16:]) != host || be.Uint16(bc.v4[0][22:]) != 5555 {
		t.Fatal("answer not back at the host")
	}
	checkIPv4(t, bc.v4[0])
	if bc.v4[0][8] != 62 {
		t.Fatalf("TTL %d after AFTR and B4", bc.v4[0][8])
	}
}
