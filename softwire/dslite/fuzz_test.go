package dslite

import (
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// FuzzAFTRFromB4 feeds arbitrary tunnel packets (and arbitrary inner
// packets in a valid tunnel): nothing panics, state stays bounded.
func FuzzAFTRFromB4(f *testing.F) {
	f.Add(encap6(b4A, aftrAddr, udpOut(host, 4000)), false)
	f.Add(udpOut(host, 4000), true)
	f.Add(pkt4{src: host, dst: remote, proto: 1, icmp: append([]byte{3, 3, 0, 0, 0, 0}, udpOut(host, 1)[:28]...)}.bytes(), true)
	f.Add(pkt4{src: host, dst: remote, proto: 6, sport: 1, dport: 2, tcpFlags: 2, opts: []byte{2, 4, 5, 0xb4}}.bytes(), true)
	a, _ := newTestAFTR(f, func(c *AFTRConfig) { c.MaxB4s, c.MaxSessionsPerB4, c.MaxReassemblyPackets = 64, 64, 16 })
	var now time.Duration
	f.Fuzz(func(t *testing.T, b []byte, inner bool) {
		if inner {
			b = encap6(b4A, aftrAddr, b)
		}
		a.FromB4(b)
		now += time.Second
		a.Advance(t0.Add(now))
		if a.ActiveB4s() > 64 || a.Sessions() > 64*64 {
			t.Fatal("state beyond its bounds")
		}
	})
}

// FuzzAFTRFromInternet feeds arbitrary IPv4 packets to an AFTR holding
// a few mappings.
func FuzzAFTRFromInternet(f *testing.F) {
	a, c := newTestAFTR(f, nil)
	a.FromB4(encap6(b4A, aftrAddr, udpOut(host, 4000)))
	ext := netip.AddrPortFrom(addr4(c.v4[0][12:]), be.Uint16(c.v4[0][20:]))
	f.Add(pkt4{src: remote, dst: ext.Addr(), proto: 17, sport: 53, dport: ext.Port()}.bytes())
	f.Add(pkt4{src: remote, dst: ext.Addr(), proto: 1, icmp: append([]byte{3, 3, 0, 0, 0, 0}, c.v4[0][:28]...)}.bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		c.reset()
		a.FromInternet(b)
		if a.Sessions() != 1 {
			t.Fatal("an inbound packet changed the mappings")
		}
	})
}

// FuzzB4FromWAN feeds arbitrary IPv6 packets (or inner packets from a
// known AFTR) to a B4.
func FuzzB4FromWAN(f *testing.F) {
	f.Add(encap6(aftr1, b4Self, pkt4{src: remote, dst: host, proto: 17, sport: 1, dport: 2}.bytes()), false)
	f.Add(pkt4{src: AFTRInnerAddress, dst: B4InnerAddress, proto: 17, sport: 49152, dport: BFDPort, payload: make([]byte, 24)}.bytes(), true)
	c := &capture{}
	b, err := NewB4(B4Config{Address: b4Self, AFTRs: []AFTREntry{{aftr1, 1}}, OnBFD: func(netip.Addr, uint8, []byte) {}}, c, t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p []byte, inner bool) {
		c.reset()
		if inner {
			p = encap6(aftr1, b4Self, p)
		}
		b.FromWAN(p)
		b.FromLAN(p)
	})
}

// FuzzLinkInput feeds arbitrary Ethernet frames to a link (ARP, NDP,
// IPv4, IPv6 demultiplexing): nothing panics, the neighbour cache stays
// within its bound.
func FuzzLinkInput(f *testing.F) {
	arp := make([]byte, netpkt.ARPLen)
	netpkt.WriteARP(arp, netpkt.ARPRequest, []byte{2, 0, 0, 0, 0, 2}, []byte{192, 0, 2, 1}, nil, []byte{192, 0, 2, 2})
	f.Add(frame(netpkt.BroadcastMAC, []byte{2, 0, 0, 0, 0, 2}, netpkt.EtherTypeARP, arp))
	ns := make([]byte, netpkt.NDLen)
	netpkt.WriteNS(ns, b4A.AsSlice(), aftrAddr.AsSlice(), []byte{2, 0, 0, 0, 0, 2})
	f.Add(frame([]byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}, netpkt.EtherTypeIPv6, ns))
	w := &frames{}
	l := NewLink(LinkConfig{MAC: [6]byte{2, 0, 0, 0, 0, 1}, IPv4: netip.MustParseAddr("192.0.2.2"), IPv6: []netip.Addr{aftrAddr}, MaxNeighbors: 8}, w)
	l.OnIPv4 = func([]byte) {}
	l.OnIPv6 = func([]byte) {}
	f.Fuzz(func(t *testing.T, b []byte) {
		w.f = w.f[:0]
		l.Input(b)
		if l.nb.Len() > 8 {
			t.Fatal("neighbour cache over its bound")
		}
	})
}
