package transport

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/sfc/node"
	"github.com/wirebeat/wirebeat/sfc/nsh"
	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// memLink is an in-memory link: what the port writes is kept.
type memLink struct{ sent [][]byte }

func (l *memLink) ReadBatch([][]byte, []int) (int, error) {
	time.Sleep(time.Millisecond)
	return 0, nil
}
func (l *memLink) Write(f []byte) error { l.sent = append(l.sent, bytes.Clone(f)); return nil }
func (l *memLink) Close() error         { return nil }

func (l *memLink) take(t *testing.T) []byte {
	t.Helper()
	if len(l.sent) == 0 {
		t.Fatal("nothing sent")
	}
	f := l.sent[0]
	l.sent = l.sent[1:]
	return f
}

// etherOut is node.Output over an Ether.
type etherOut struct{ e *Ether }

func (o etherOut) SendNSH(to netip.Addr, dscp uint8, pkt []byte) { o.e.SendNSH(to, dscp, pkt) }
func (etherOut) Route(uint8, []byte)                             {}
func (etherOut) ToLegacy(uint8, []byte)                          {}

var (
	macA = [6]byte{2, 0, 0, 0, 0, 0xa}
	macB = [6]byte{2, 0, 0, 0, 0, 0xb} // the boundary node, resolved by ARP
	macC = [6]byte{2, 0, 0, 0, 0, 0xc} // dpi's locator, configured
)

// TestEther: peers without a configured MAC are asked for with ARP (and
// NDP), learnt from the answers; NSH frames from a learnt MAC are taken
// as from that peer and forwarded by the table to the next SF's MAC in an
// Ethernet frame with EtherType 0x894F; frames for other MACs are ignored.
func TestEther(t *testing.T) {
	link := &memLink{}
	e := newEtherOnPort(pktio.Adapt(link, 0), macA, netip.MustParseAddr("10.0.0.1"))
	e.setLocal(netip.MustParseAddr("fd00::1"))
	e.SetPeers([]Peer{{Addr: netip.MustParseAddr("10.0.0.2")}, {Addr: netip.MustParseAddr("10.0.0.3"), MAC: net.HardwareAddr(macC[:])},
		{Addr: netip.MustParseAddr("fd00::2")}, {Addr: netip.MustParseAddr("10.0.0.1")}})
	// One ARP request (for 10.0.0.2 only) and one neighbour solicitation.
	var arp, ns []byte
	for len(link.sent) > 0 {
		f := link.take(t)
		switch binary.BigEndian.Uint16(f[12:]) {
		case netpkt.EtherTypeARP:
			if arp != nil {
				t.Fatal("two ARP requests")
			}
			arp = f
		case netpkt.EtherTypeIPv6:
			ns = f
		}
	}
	a, ok := netpkt.ParseARP(arp[EtherLen:])
	if !ok || !bytes.Equal(arp[:6], netpkt.BroadcastMAC) || a.Op != netpkt.ARPRequest || !bytes.Equal(a.TPA, []byte{10, 0, 0, 2}) ||
		!bytes.Equal(a.SPA, []byte{10, 0, 0, 1}) || !bytes.Equal(a.SHA, macA[:]) {
		t.Fatalf("ARP request %x", arp)
	}
	if ns == nil || !bytes.Equal(ns[:6], []byte{0x33, 0x33, 0xff, 0, 0, 2}) || ns[EtherLen+40] != netpkt.ICMPv6NeighborSolicitation {
		t.Fatalf("neighbour solicitation %x", ns)
	}

	n := node.New(node.Hooks{})
	tb, err := node.Build(node.Config{SFNode: true, LocalSF: "fw", LoopDetection: true, BoundaryNodes: []netip.Addr{netip.MustParseAddr("10.0.0.2")},
		SFs: []node.SF{{ID: "fw", Locators: []node.Locator{{Addr: netip.MustParseAddr("10.0.0.1")}}},
			{ID: "dpi", Locators: []node.Locator{{Addr: netip.MustParseAddr("10.0.0.3")}}}},
		Maps: []node.Map{{Index: 10, SFs: []string{"fw", "dpi"}}}})
	if err != nil {
		t.Fatal(err)
	}
	n.Install(tb)
	w := n.NewWorker(etherOut{e})
	buf := make([]byte, node.Headroom+2048)

	e.SendNSH(netip.MustParseAddr("10.0.0.2"), 0, []byte{1, 2, 3})
	if e.TxUnresolved.Load() != 1 || len(link.sent) != 0 {
		t.Fatalf("sent to an unresolved peer: %d unresolved, %d frames", e.TxUnresolved.Load(), len(link.sent))
	}
	// The answer: 10.0.0.2 is at macB.
	reply := make([]byte, EtherLen+netpkt.ARPLen)
	copy(reply[0:], macA[:])
	copy(reply[6:], macB[:])
	binary.BigEndian.PutUint16(reply[12:], netpkt.EtherTypeARP)
	netpkt.WriteARP(reply[EtherLen:], netpkt.ARPReply, macB[:], []byte{10, 0, 0, 2}, macA[:], []byte{10, 0, 0, 1})
	e.frameIn(w, reply, buf)
	// And fd00::2 at macB too, from its advertisement: a dual-stack
	// peer, whose frames count as from its IPv4 address (the domain's
	// family here).
	na := make([]byte, EtherLen+netpkt.NDLen)
	copy(na[0:], macA[:])
	copy(na[6:], macB[:])
	binary.BigEndian.PutUint16(na[12:], netpkt.EtherTypeIPv6)
	s6, d6 := netip.MustParseAddr("fd00::2").As16(), netip.MustParseAddr("fd00::1").As16()
	netpkt.WriteNA(na[EtherLen:], s6[:], d6[:], s6[:], macB[:], false)
	e.frameIn(w, na, buf)
	e.mu.Lock()
	p6 := *e.peers[netip.MustParseAddr("fd00::2")]
	e.mu.Unlock()
	if !p6.known || p6.mac != macB {
		t.Fatalf("fd00::2 not learnt: %+v", p6)
	}

	// An NSH frame from the boundary node (macB) for fw at SI 255.
	h := nsh.Header{TTL: 63, MDType: 1, NextProtocol: nsh.ProtoIPv4, SPI: 10, SI: 255}
	pkt := make([]byte, nsh.MD1Len+20)
	_, _ = h.Encode(pkt)
	pkt[nsh.MD1Len] = 0x45
	frame := append(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x89, 0x4f), pkt...)
	e.frameIn(w, frame, buf)
	e.Flush()
	out := link.take(t)
	var d nsh.Header
	if !bytes.Equal(out[0:6], macC[:]) || !bytes.Equal(out[6:12], macA[:]) || binary.BigEndian.Uint16(out[12:]) != EtherTypeNSH {
		t.Fatalf("frame header %x", out[:EtherLen])
	}
	if _, err := d.Decode(out[EtherLen:]); err != nil || d.SPI != 10 || d.SI != 254 || d.TTL != 62 {
		t.Fatalf("forwarded NSH %+v %v", d, err)
	}
	if c := n.Counters(); c.Invocations != 1 || c.LoopDetected != 0 || c.Forwarded != 1 {
		t.Fatalf("counters %+v", c)
	}
	// The same frame to another MAC (promiscuous receive) is not ours.
	frame[5] = 0xee
	e.frameIn(w, frame, buf)
	// From an unknown MAC: not a boundary node, so loop detection
	// catches it (the packet is not from an SF before fw).
	frame[5] = macA[5]
	frame[11] = 0x77
	_, _ = h.Encode(frame[EtherLen:])
	e.frameIn(w, frame, buf)
	if c := n.Counters(); c.Invocations != 1 || c.LoopDetected != 1 || e.RxNSH.Load() != 2 {
		t.Fatalf("counters %+v, rx %d", c, e.RxNSH.Load())
	}
}

// FuzzEtherFrame: whatever arrives on the link or on an external
// interface, the receive paths neither crash nor read past the frame.
func FuzzEtherFrame(f *testing.F) {
	h := nsh.Header{TTL: 63, MDType: 1, NextProtocol: nsh.ProtoIPv4, SPI: 10, SI: 255}
	pkt := make([]byte, nsh.MD1Len+20)
	_, _ = h.Encode(pkt)
	pkt[nsh.MD1Len] = 0x45
	f.Add(append(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x89, 0x4f), pkt...))
	f.Add(append(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x08, 0x06), make([]byte, 28)...))
	f.Add(append(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x86, 0xdd), make([]byte, 72)...))
	f.Add(append(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x08, 0x00), pkt[nsh.MD1Len:]...))
	f.Add(append(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x81, 0x00, 0x00, 0x64, 0x89, 0x4f), pkt...))
	f.Add(append(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x81, 0x00, 0x00, 0x64, 0x08, 0x06), make([]byte, 28)...))
	f.Add(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x81, 0x00, 0x00))
	e := newEtherOnPort(pktio.Adapt(&memLink{}, 0), macA, netip.MustParseAddr("10.0.0.1"))
	e.SetPeers([]Peer{{Addr: netip.MustParseAddr("10.0.0.2")}})
	ev := newEtherOnPort(pktio.Adapt(&memLink{}, 0), macA, netip.MustParseAddr("10.0.0.1"))
	ev.vlan = 100
	ev.SetPeers([]Peer{{Addr: netip.MustParseAddr("10.0.0.2")}})
	x := &External{port: pktio.Adapt(&memLink{}, 0), mac: macA, local: map[netip.Addr]bool{}}
	n := node.New(node.Hooks{})
	tb, err := node.Build(node.Config{Boundary: true, Classifier: true, SFNode: true, LocalSF: "fw",
		SFs:  []node.SF{{ID: "fw", Locators: []node.Locator{{Addr: netip.MustParseAddr("10.0.0.1")}}}},
		Maps: []node.Map{{Index: 10, SFs: []string{"fw"}}}})
	if err != nil {
		f.Fatal(err)
	}
	n.Install(tb)
	w := n.NewWorker(etherOut{e})
	wv := n.NewWorker(etherOut{ev})
	buf := make([]byte, node.Headroom+65536)
	f.Fuzz(func(t *testing.T, b []byte) {
		e.frameIn(w, b, buf)
		ev.frameIn(wv, b, buf)
		x.frameIn(w, b, buf)
	})
}

// discardLink is a link that drops what it is given.
type discardLink struct{}

func (discardLink) ReadBatch([][]byte, []int) (int, error) { return 0, nil }
func (discardLink) Write([]byte) error                     { return nil }
func (discardLink) Close() error                           { return nil }

// BenchmarkEtherForward: an SF node receiving an NSH frame over Ethernet
// (receive path: MAC to peer, copy behind the headroom) and forwarding it
// to the next SF's MAC (Ethernet header, the port's Send), in process on
// a port that discards: the transport's own cost per packet.
func BenchmarkEtherForward(b *testing.B) { benchEtherForward(b, 0) }

// BenchmarkEtherForwardVLAN: the same on VLAN 100, tagged both ways (the
// tag removed on receive, put on the forwarded frame).
func BenchmarkEtherForwardVLAN(b *testing.B) { benchEtherForward(b, 100) }

func benchEtherForward(b *testing.B, vlan uint16) {
	e := newEtherOnPort(pktio.Adapt(discardLink{}, 0), macA, netip.MustParseAddr("10.0.0.1"))
	e.SetPeers([]Peer{{Addr: netip.MustParseAddr("10.0.0.2"), MAC: net.HardwareAddr(macB[:])}, {Addr: netip.MustParseAddr("10.0.0.3"), MAC: net.HardwareAddr(macC[:])}})
	n := node.New(node.Hooks{})
	tb, err := node.Build(node.Config{SFNode: true, LocalSF: "fw", LoopDetection: true, BoundaryNodes: []netip.Addr{netip.MustParseAddr("10.0.0.2")},
		SFs: []node.SF{{ID: "fw", Locators: []node.Locator{{Addr: netip.MustParseAddr("10.0.0.1")}}},
			{ID: "dpi", Locators: []node.Locator{{Addr: netip.MustParseAddr("10.0.0.3")}}}},
		Maps: []node.Map{{Index: 10, SFs: []string{"fw", "dpi"}}}})
	if err != nil {
		b.Fatal(err)
	}
	n.Install(tb)
	w := n.NewWorker(etherOut{e})
	h := nsh.Header{TTL: 63, MDType: 1, NextProtocol: nsh.ProtoIPv4, SPI: 10, SI: 255}
	pkt := make([]byte, nsh.MD1Len+100)
	_, _ = h.Encode(pkt)
	pkt[nsh.MD1Len] = 0x45
	frame := append(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x89, 0x4f), pkt...)
	if e.vlan = vlan; vlan != 0 {
		frame = append(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x81, 0x00, byte(vlan>>8), byte(vlan), 0x89, 0x4f), pkt...)
	}
	buf := make([]byte, node.Headroom+2048)
	b.ReportAllocs()
	for b.Loop() {
		e.frameIn(w, frame, buf)
	}
	if c := n.Counters(); c.Forwarded != c.Invocations || c.Forwarded == 0 {
		b.Fatalf("counters %+v", c)
	}
}

// arpReply is an ARP reply from spa at sha to macA (10.0.0.1).
func arpReply(sha [6]byte, spa [4]byte) []byte {
	f := make([]byte, EtherLen+netpkt.ARPLen)
	copy(f[0:], macA[:])
	copy(f[6:], sha[:])
	binary.BigEndian.PutUint16(f[12:], netpkt.EtherTypeARP)
	netpkt.WriteARP(f[EtherLen:], netpkt.ARPReply, sha[:], spa[:], macA[:], []byte{10, 0, 0, 1})
	return f
}

// arpRequests takes the frames sent and counts the ARP requests for tpa
// among them; the NSH frames' destination MACs are returned in order.
func arpRequests(l *memLink, tpa [4]byte) (n int, nshTo [][6]byte) {
	for _, f := range l.sent {
		switch binary.BigEndian.Uint16(f[12:]) {
		case netpkt.EtherTypeARP:
			if a, ok := netpkt.ParseARP(f[EtherLen:]); ok && a.Op == netpkt.ARPRequest && bytes.Equal(a.TPA, tpa[:]) {
				n++
			}
		case EtherTypeNSH:
			nshTo = append(nshTo, [6]byte(f[0:6]))
		}
	}
	l.sent = l.sent[:0]
	return n, nshTo
}

// TestEtherAging: a MAC learnt by ARP ages out (RFC 4861 section 7.3
// applied to ARP). Once stale, using it asks again; when the next hop has
// been replaced by one at another MAC, which answers only when asked,
// traffic follows the new MAC. A next hop that stops answering is
// forgotten after the probes: its packets count as unresolved instead of
// going to a MAC nobody has. Without aging the first MAC would be used
// forever and no request would ever be sent again.
func TestEtherAging(t *testing.T) {
	link := &memLink{}
	e := newEtherOnPort(pktio.Adapt(link, 0), macA, netip.MustParseAddr("10.0.0.1"))
	e.aging = Aging{Reachable: 30 * time.Millisecond, Retrans: 5 * time.Millisecond, Probes: 2}
	to := netip.MustParseAddr("10.0.0.2")
	tpa := to.As4()
	e.SetPeers([]Peer{{Addr: to}})
	w := node.New(node.Hooks{}).NewWorker(etherOut{e})
	buf := make([]byte, node.Headroom+2048)
	e.frameIn(w, arpReply(macB, tpa), buf)
	send := func() {
		e.SendNSH(to, 0, []byte{1, 2, 3})
		e.mu.Lock()
		if time.Since(e.lastSolicit) > e.aging.Retrans {
			e.solicitLocked() // what Run does between batches
		}
		e.mu.Unlock()
		e.Flush()
	}
	send()
	if n, nshTo := arpRequests(link, tpa); len(nshTo) != 1 || nshTo[0] != macB {
		t.Fatalf("first frame to %x (%d requests)", nshTo, n)
	}

	// The SF is replaced: macD now has 10.0.0.2 and answers requests.
	macD := [6]byte{2, 0, 0, 0, 0, 0xd}
	asked := false
	for deadline := time.Now().Add(10 * time.Second); !asked && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		send()
		n, nshTo := arpRequests(link, tpa)
		for _, m := range nshTo {
			if m != macB {
				t.Fatalf("NSH to %x before the new MAC answered", m)
			}
		}
		asked = n > 0
	}
	if !asked {
		t.Fatal("a stale MAC in use was never asked for again")
	}
	e.frameIn(w, arpReply(macD, tpa), buf)
	send()
	if _, nshTo := arpRequests(link, tpa); len(nshTo) != 1 || nshTo[0] != macD {
		t.Fatalf("after the answer, NSH to %x, want the new MAC %x", nshTo, macD)
	}
	if got := (*e.byMAC.Load())[macD]; got != to {
		t.Fatalf("frames from the new MAC are from %v", got)
	}
	if _, old := (*e.byMAC.Load())[macB]; old {
		t.Fatal("the old MAC still names the peer")
	}

	// Now nobody answers: after the probes the MAC is forgotten.
	before := e.TxUnresolved.Load()
	for deadline := time.Now().Add(10 * time.Second); e.Expired.Load() == 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		send()
		arpRequests(link, tpa)
	}
	if e.Expired.Load() != 1 {
		t.Fatal("an unanswered MAC was never forgotten")
	}
	send()
	if n, nshTo := arpRequests(link, tpa); len(nshTo) != 0 || e.TxUnresolved.Load() == before {
		t.Fatalf("after forgetting, NSH still sent to %x (%d requests)", nshTo, n)
	}
	if _, old := (*e.byMAC.Load())[macD]; old {
		t.Fatal("a forgotten MAC still names the peer")
	}
	// Stale but unused: not probed (RFC 4861: probing starts on use).
	e.frameIn(w, arpReply(macB, tpa), buf)
	time.Sleep(2 * e.aging.Reachable)
	for i := 0; i < 10; i++ {
		e.mu.Lock()
		e.solicitLocked()
		e.mu.Unlock()
	}
	if n, _ := arpRequests(link, tpa); n != 0 {
		t.Fatalf("%d requests for a stale MAC nobody uses", n)
	}
}

// TestEtherARPFlood: ARP replies from thousands of addresses and MACs
// leave the neighbour table as big as the configuration (only configured
// peers have entries), and the receive path's MAC map holds only peers.
func TestEtherARPFlood(t *testing.T) {
	e := newEtherOnPort(pktio.Adapt(&memLink{}, 0), macA, netip.MustParseAddr("10.0.0.1"))
	e.SetPeers([]Peer{{Addr: netip.MustParseAddr("10.0.0.2")}, {Addr: netip.MustParseAddr("10.0.0.3")}})
	w := node.New(node.Hooks{}).NewWorker(etherOut{e})
	buf := make([]byte, node.Headroom+2048)
	for i := 0; i < 20000; i++ {
		sha := [6]byte{2, 1, byte(i >> 16), byte(i >> 8), byte(i), 0}
		e.frameIn(w, arpReply(sha, [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), buf)
	}
	e.mu.Lock()
	np := len(e.peers)
	e.mu.Unlock()
	if m := len(*e.byMAC.Load()); np != 2 || m > 2 {
		t.Fatalf("after the flood: %d entries, %d MACs", np, m)
	}
	// The flood did reach the two configured addresses (10.0.0.2 and
	// .3 are among them); the last answer for each is kept.
	if got := (*e.byMAC.Load())[[6]byte{2, 1, 0, 0, 3, 0}]; got != netip.MustParseAddr("10.0.0.3") {
		t.Fatalf("10.0.0.3 learnt as %v", got)
	}
}

// TestEtherVLAN: 802.1Q-tagged NSH (TPID 0x8100, then 0x894F). Without a
// configured VLAN, a tagged NSH frame is taken (tag removed) and
// forwarded untagged. With VLAN 100 configured, every frame sent (NSH,
// ARP request, neighbour solicitation) carries the tag, a tagged ARP
// reply teaches the MAC, and NSH of another VLAN or untagged is ignored
// with a counter.
func TestEtherVLAN(t *testing.T) {
	tb, err := node.Build(node.Config{SFNode: true, LocalSF: "fw", LoopDetection: true, BoundaryNodes: []netip.Addr{netip.MustParseAddr("10.0.0.2")},
		SFs: []node.SF{{ID: "fw", Locators: []node.Locator{{Addr: netip.MustParseAddr("10.0.0.1")}}},
			{ID: "dpi", Locators: []node.Locator{{Addr: netip.MustParseAddr("10.0.0.3")}}}},
		Maps: []node.Map{{Index: 10, SFs: []string{"fw", "dpi"}}}})
	if err != nil {
		t.Fatal(err)
	}
	h := nsh.Header{TTL: 63, MDType: 1, NextProtocol: nsh.ProtoIPv4, SPI: 10, SI: 255}
	pkt := make([]byte, nsh.MD1Len+20)
	_, _ = h.Encode(pkt)
	pkt[nsh.MD1Len] = 0x45
	tagged := func(vid uint16, et uint16, payload []byte) []byte {
		f := append(append([]byte(nil), macA[:]...), macB[:]...)
		f = binary.BigEndian.AppendUint16(f, TPIDVLAN)
		f = binary.BigEndian.AppendUint16(f, 0xa000|vid) // priority 5: not part of the VLAN id
		f = binary.BigEndian.AppendUint16(f, et)
		return append(f, payload...)
	}
	buf := make([]byte, node.Headroom+2048)
	peers := []Peer{{Addr: netip.MustParseAddr("10.0.0.2"), MAC: net.HardwareAddr(macB[:])}, {Addr: netip.MustParseAddr("10.0.0.3"), MAC: net.HardwareAddr(macC[:])}}

	t.Run("untagged transport takes tagged NSH", func(t *testing.T) {
		link := &memLink{}
		e := newEtherOnPort(pktio.Adapt(link, 0), macA, netip.MustParseAddr("10.0.0.1"))
		e.SetPeers(peers)
		n := node.New(node.Hooks{})
		n.Install(tb)
		w := n.NewWorker(etherOut{e})
		e.frameIn(w, tagged(100, EtherTypeNSH, pkt), buf)
		e.Flush()
		out := link.take(t)
		var d nsh.Header
		if binary.BigEndian.Uint16(out[12:]) != EtherTypeNSH || !bytes.Equal(out[0:6], macC[:]) {
			t.Fatalf("forwarded frame header %x", out[:EtherLen])
		}
		if _, err := d.Decode(out[EtherLen:]); err != nil || d.SPI != 10 || d.SI != 254 {
			t.Fatalf("forwarded NSH %+v %v", d, err)
		}
		// From macB behind the tag: the boundary node, so fw is invoked.
		if c := n.Counters(); c.Invocations != 1 || c.LoopDetected != 0 || e.RxTagged.Load() != 1 || e.RxOtherVLAN.Load() != 0 {
			t.Fatalf("counters %+v, tagged %d", c, e.RxTagged.Load())
		}
	})

	t.Run("VLAN 100", func(t *testing.T) {
		link := &memLink{}
		e := newEtherOnPort(pktio.Adapt(link, 0), macA, netip.MustParseAddr("10.0.0.1"))
		e.setLocal(netip.MustParseAddr("fd00::1"))
		e.vlan = 100
		e.SetPeers(append(peers, Peer{Addr: netip.MustParseAddr("10.0.0.4")}, Peer{Addr: netip.MustParseAddr("fd00::4")}))
		arp, ns := 0, 0
		for len(link.sent) > 0 {
			f := link.take(t)
			if binary.BigEndian.Uint16(f[12:]) != TPIDVLAN || binary.BigEndian.Uint16(f[14:]) != 100 {
				t.Fatalf("untagged or wrong tag: %x", f[:EtherLen+VLANLen])
			}
			switch binary.BigEndian.Uint16(f[16:]) {
			case netpkt.EtherTypeARP:
				if a, ok := netpkt.ParseARP(f[EtherLen+VLANLen:]); !ok || !bytes.Equal(a.TPA, []byte{10, 0, 0, 4}) {
					t.Fatalf("ARP request %x", f)
				}
				arp++
			case netpkt.EtherTypeIPv6:
				if f[EtherLen+VLANLen+40] != netpkt.ICMPv6NeighborSolicitation || !bytes.Equal(f[:6], []byte{0x33, 0x33, 0xff, 0, 0, 4}) {
					t.Fatalf("neighbour solicitation %x", f)
				}
				ns++
			}
		}
		if arp != 1 || ns != 1 {
			t.Fatalf("%d ARP requests, %d solicitations", arp, ns)
		}
		n := node.New(node.Hooks{})
		n.Install(tb)
		w := n.NewWorker(etherOut{e})
		// A tagged ARP reply for 10.0.0.4 teaches its MAC.
		reply := arpReply(macC, [4]byte{10, 0, 0, 4})
		e.frameIn(w, tagged(100, netpkt.EtherTypeARP, reply[EtherLen:]), buf)
		e.mu.Lock()
		p4 := *e.peers[netip.MustParseAddr("10.0.0.4")]
		e.mu.Unlock()
		if !p4.known || p4.mac != macC {
			t.Fatalf("10.0.0.4 not learnt from a tagged reply: %+v", p4)
		}
		// NSH untagged, or on VLAN 200: not this transport's.
		e.frameIn(w, append(append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x89, 0x4f), pkt...), buf)
		e.frameIn(w, tagged(200, EtherTypeNSH, pkt), buf)
		if c := n.Counters(); c.Invocations != 0 || e.RxOtherVLAN.Load() != 2 || e.RxNSH.Load() != 0 {
			t.Fatalf("other VLANs taken: %+v, other %d", c, e.RxOtherVLAN.Load())
		}
		e.frameIn(w, tagged(100, EtherTypeNSH, pkt), buf)
		e.Flush()
		out := link.take(t)
		if !bytes.Equal(out[0:6], macC[:]) || binary.BigEndian.Uint16(out[12:]) != TPIDVLAN || binary.BigEndian.Uint16(out[14:]) != 100 ||
			binary.BigEndian.Uint16(out[16:]) != EtherTypeNSH {
			t.Fatalf("forwarded frame header %x", out[:EtherLen+VLANLen])
		}
		var d nsh.Header
		if _, err := d.Decode(out[EtherLen+VLANLen:]); err != nil || d.SPI != 10 || d.SI != 254 {
			t.Fatalf("forwarded NSH %+v %v", d, err)
		}
		if c := n.Counters(); c.Invocations != 1 || e.RxTagged.Load() != 1 {
			t.Fatalf("counters %+v, tagged %d", c, e.RxTagged.Load())
		}
	})
}
