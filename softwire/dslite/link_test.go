package dslite

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

type frames struct{ f [][]byte }

func (w *frames) Send(f []byte) bool { w.f = append(w.f, bytes.Clone(f)); return true }

func frame(dst, src []byte, et uint16, p []byte) []byte {
	f := make([]byte, 14+len(p))
	copy(f, dst)
	copy(f[6:], src)
	be.PutUint16(f[12:], et)
	copy(f[14:], p)
	return f
}

func TestLinkNeighbors(t *testing.T) {
	w := &frames{}
	mac := [6]byte{2, 0, 0, 0, 0, 1}
	peer := []byte{2, 0, 0, 0, 0, 2}
	gw4 := netip.MustParseAddr("192.0.2.1")
	gw6 := netip.MustParseAddr("2001:db8:1::1")
	l := NewLink(LinkConfig{MAC: mac, IPv4: netip.MustParseAddr("192.0.2.2"), IPv6: []netip.Addr{aftrAddr},
		Gateway4: gw4, Gateway6: gw6}, w)
	var got4 [][]byte
	l.OnIPv4 = func(p []byte) { got4 = append(got4, bytes.Clone(p)) }
	// An ARP request for our address is answered and its sender learnt.
	arp := make([]byte, netpkt.ARPLen)
	netpkt.WriteARP(arp, netpkt.ARPRequest, peer, gw4.AsSlice(), nil, []byte{192, 0, 2, 2})
	l.Input(frame(netpkt.BroadcastMAC, peer, netpkt.EtherTypeARP, arp))
	if len(w.f) != 1 || !bytes.Equal(w.f[0][:6], peer) {
		t.Fatal("ARP request not answered")
	}
	a, _ := netpkt.ParseARP(w.f[0][14:])
	if a.Op != netpkt.ARPReply || !bytes.Equal(a.SHA, mac[:]) {
		t.Fatalf("ARP reply %+v", a)
	}
	// IPv4 to the gateway goes out at once: its MAC was learnt.
	p := udpOut(host, 1)
	l.SendIPv4(p)
	if len(w.f) != 2 || !bytes.Equal(w.f[1][:6], peer) || !bytes.Equal(w.f[1][14:], p) {
		t.Fatal("IPv4 not sent to the learnt gateway")
	}
	// IPv6 to an unresolved gateway: held, one solicitation.
	v6 := encap6(aftrAddr, b4A, udpOut(host, 1))
	l.SendIPv6(v6)
	l.SendIPv6(v6)
	if len(w.f) != 3 || l.C.HeldNoNeighbor != 2 || l.C.Solicitations != 1 {
		t.Fatalf("frames %d, counters %+v", len(w.f), l.C)
	}
	ns := w.f[2][14:]
	if tg, _, ok := netpkt.NDTarget(ns, 1); !ok || netip.AddrFrom16([16]byte(tg)) != gw6 {
		t.Fatal("bad solicitation")
	}
	// The gateway answers: the two held packets go, then IPv6 flows.
	na := make([]byte, netpkt.NDLen)
	netpkt.WriteNA(na, gw6.AsSlice(), ns[8:24], gw6.AsSlice(), peer, true)
	l.Input(frame(mac[:], peer, netpkt.EtherTypeIPv6, na))
	if len(w.f) != 5 || !bytes.Equal(w.f[4][14:], v6) {
		t.Fatalf("held packets not sent after the advertisement: %d frames", len(w.f))
	}
	l.SendIPv6(v6)
	if len(w.f) != 6 || !bytes.Equal(w.f[5][:6], peer) {
		t.Fatal("IPv6 not sent after the advertisement")
	}
	// A solicitation for our tunnel endpoint is answered.
	q := make([]byte, netpkt.NDLen)
	netpkt.WriteNS(q, gw6.AsSlice(), aftrAddr.AsSlice(), peer)
	l.Input(frame(mac[:], peer, netpkt.EtherTypeIPv6, q))
	if len(w.f) != 7 || w.f[6][14+40] != netpkt.ICMPv6NeighborAdvertisement {
		t.Fatal("solicitation for the endpoint not answered")
	}
	l.Input(frame(mac[:], peer, netpkt.EtherTypeIPv4, udpOut(host, 2)))
	l.Input([]byte{1, 2, 3})
	if len(got4) != 1 || l.C.DropOther != 1 {
		t.Fatal("IPv4 input not delivered")
	}
}
