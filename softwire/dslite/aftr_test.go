package dslite

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

func udpOut(src netip.Addr, sport uint16) []byte {
	return pkt4{src: src, dst: remote, proto: 17, sport: sport, dport: 53, payload: []byte("query")}.bytes()
}

// TestOverlappingPrivateSpace: the same private endpoint behind two B4s
// gets two mappings, and each reply goes back to its own B4.
func TestOverlappingPrivateSpace(t *testing.T) {
	a, c := newTestAFTR(t, nil)
	a.FromB4(encap6(b4A, aftrAddr, udpOut(host, 4000)))
	a.FromB4(encap6(b4B, aftrAddr, udpOut(host, 4000)))
	if len(c.v4) != 2 || a.Sessions() != 2 {
		t.Fatalf("sent %d, sessions %d", len(c.v4), a.Sessions())
	}
	var ext [2]netip.AddrPort
	for i, p := range c.v4 {
		checkIPv4(t, p)
		if !testPool.Contains(addr4(p[12:])) {
			t.Fatalf("source %v not from the pool", addr4(p[12:]))
		}
		if p[8] != 63 {
			t.Fatalf("TTL %d, want 63", p[8])
		}
		ext[i] = netip.AddrPortFrom(addr4(p[12:]), be.Uint16(p[20:]))
	}
	if ext[0] == ext[1] {
		t.Fatalf("both B4s mapped to %v", ext[0])
	}
	for i, b4 := range []netip.Addr{b4A, b4B} {
		if m, ok := a.Mapping(b4, netip.AddrPortFrom(host, 4000), 17); !ok || m != ext[i] {
			t.Fatalf("mapping of %v: %v %v, want %v", b4, m, ok, ext[i])
		}
	}
	c.reset()
	for i := 1; i >= 0; i-- {
		reply := pkt4{src: remote, dst: ext[i].Addr(), proto: 17, sport: 53, dport: ext[i].Port(), payload: []byte("answer")}.bytes()
		a.FromInternet(reply)
	}
	if len(c.v6) != 2 {
		t.Fatalf("%d packets to B4s", len(c.v6))
	}
	for k, b4 := range []netip.Addr{b4B, b4A} {
		in := decapTo(t, c.v6[k], b4)
		if addr4(in[16:]) != host || be.Uint16(in[22:]) != 4000 || addr4(in[12:]) != remote {
			t.Fatalf("reply to %v: %v:%d from %v", b4, addr4(in[16:]), be.Uint16(in[22:]), addr4(in[12:]))
		}
	}
}

// TestEndpointIndependent: one internal endpoint keeps its mapping
// towards any remote (RFC 4787 REQ-1), and any remote may reach it.
func TestEndpointIndependent(t *testing.T) {
	a, c := newTestAFTR(t, nil)
	for _, dst := range []string{"203.0.113.9", "192.0.2.77"} {
		p := pkt4{src: host, dst: netip.MustParseAddr(dst), proto: 17, sport: 5000, dport: 3478}.bytes()
		a.FromB4(encap6(b4A, aftrAddr, p))
	}
	if len(c.v4) != 2 || !bytes.Equal(c.v4[0][12:16], c.v4[1][12:16]) || be.Uint16(c.v4[0][20:]) != be.Uint16(c.v4[1][20:]) {
		t.Fatal("mapping differs by destination")
	}
	if a.Sessions() != 1 {
		t.Fatalf("%d sessions", a.Sessions())
	}
	ext := netip.AddrPortFrom(addr4(c.v4[0][12:]), be.Uint16(c.v4[0][20:]))
	c.reset()
	a.FromInternet(pkt4{src: netip.MustParseAddr("100.64.9.9"), dst: ext.Addr(), proto: 17, sport: 9, dport: ext.Port()}.bytes())
	if len(c.v6) != 1 {
		t.Fatal("a third remote cannot reach the mapping")
	}
	// Nothing else is let in.
	a.FromInternet(pkt4{src: remote, dst: ext.Addr(), proto: 17, sport: 9, dport: ext.Port() + 1}.bytes())
	a.FromInternet(pkt4{src: remote, dst: ext.Addr(), proto: 6, sport: 9, dport: ext.Port(), tcpFlags: 2}.bytes())
	if len(c.v6) != 1 || a.C.DropNoSession4 != 2 {
		t.Fatalf("unmapped packets: sent %d, drops %d", len(c.v6), a.C.DropNoSession4)
	}
}

// TestPortBlocks: ports come in blocks per B4, each allocation and
// release is an event; one B4 running out leaves the others alone.
func TestPortBlocks(t *testing.T) {
	var events []PortBlockEvent
	var logBuf bytes.Buffer
	a, c := newTestAFTR(t, func(cfg *AFTRConfig) {
		cfg.PortBlockSize = 64
		cfg.MaxPortsPerB4 = 128
		cfg.OnPortBlock = func(e PortBlockEvent) { events = append(events, e) }
		cfg.Log = slog.New(slog.NewJSONHandler(&logBuf, nil))
	})
	for port := range uint16(128) {
		a.FromB4(encap6(b4A, aftrAddr, udpOut(host, 1000+port)))
	}
	if len(events) != 2 || !events[0].Allocated || events[0].B4 != b4A || events[0].PortEnd-events[0].PortStart != 63 {
		t.Fatalf("events %+v", events)
	}
	for _, p := range c.v4 {
		port := be.Uint16(p[20:])
		inside := false
		for _, e := range events {
			inside = inside || (port >= e.PortStart && port <= e.PortEnd && addr4(p[12:]) == e.External)
		}
		if !inside {
			t.Fatalf("port %d outside the B4's blocks", port)
		}
	}
	// The 129th port is over max-ports-per-b4.
	a.FromB4(encap6(b4A, aftrAddr, udpOut(host, 3000)))
	if a.C.DropPortExhausted != 1 || len(c.v4) != 128 {
		t.Fatalf("exhaustion: drops %d, sent %d", a.C.DropPortExhausted, len(c.v4))
	}
	// One structured line per block (RFC 6888 REQ-12), one for the
	// exhaustion.
	var allocLines, exhausted int
	for _, l := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		switch m["msg"] {
		case "dslite: port block allocated":
			allocLines++
			if m["b4"] != b4A.String() || m["external"] == nil || m["port-start"] == nil || m["port-end"] == nil || m["time"] == nil {
				t.Fatalf("port block line lacks a field: %q", l)
			}
		case "dslite: ports exhausted for B4":
			exhausted++
		}
	}
	if allocLines != 2 || exhausted != 1 {
		t.Fatalf("%d allocation lines, %d exhaustion lines:\n%s", allocLines, exhausted, logBuf.String())
	}
	// Another protocol has its own ports in the same blocks.
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 6, sport: 3000, dport: 80, tcpFlags: 2}.bytes()))
	if len(c.v4) != 129 || len(events) != 2 {
		t.Fatalf("TCP after UDP exhaustion: sent %d, events %d", len(c.v4), len(events))
	}
	// B4 B is not affected.
	a.FromB4(encap6(b4B, aftrAddr, udpOut(host, 1000)))
	if len(c.v4) != 130 || len(events) != 3 || events[2].B4 != b4B {
		t.Fatalf("other B4: sent %d, events %+v", len(c.v4), events)
	}
	info, _ := a.B4(b4A)
	if info.PortsInUse != 128 || info.Sessions != 129 || info.Blocks != 2 {
		t.Fatalf("B4 info %+v", info)
	}
	// All expire: every block is released, with its event.
	a.Advance(t0.Add(400 * time.Second))
	if a.Sessions() != 0 || a.ActiveB4s() != 0 {
		t.Fatalf("after expiry: %d sessions, %d B4s", a.Sessions(), a.ActiveB4s())
	}
	released := 0
	for _, e := range events {
		if !e.Allocated {
			released++
		}
	}
	if released != 3 || a.C.PortBlocksReleased != 3 {
		t.Fatalf("released %d blocks", released)
	}
}

// TestTimeouts: UDP, ICMP and TCP mappings end after their own idle
// timeouts; traffic keeps them alive.
func TestTimeouts(t *testing.T) {
	a, _ := newTestAFTR(t, func(cfg *AFTRConfig) {
		cfg.Timeouts = Timeouts{TCPEstablished: 2000 * time.Second, TCPTransitory: 100 * time.Second,
			UDP: 300 * time.Second, ICMP: 30 * time.Second}
	})
	a.FromB4(encap6(b4A, aftrAddr, udpOut(host, 4000)))
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 1, icmp: echo(8, 77, 1)}.bytes()))
	// A TCP handshake: SYN out, SYN-ACK in.
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 6, sport: 4001, dport: 80, tcpFlags: 0x02}.bytes()))
	ext, _ := a.Mapping(b4A, netip.AddrPortFrom(host, 4001), 6)
	a.FromInternet(pkt4{src: remote, dst: ext.Addr(), proto: 6, sport: 80, dport: ext.Port(), tcpFlags: 0x12}.bytes())
	// A half-open TCP attempt.
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 6, sport: 4002, dport: 80, tcpFlags: 0x02}.bytes()))
	has := func(port uint16, proto uint8) bool {
		_, ok := a.Mapping(b4A, netip.AddrPortFrom(host, port), proto)
		return ok
	}
	a.Advance(t0.Add(29 * time.Second))
	if !has(77, 1) {
		t.Fatal("ICMP mapping gone before 30 s")
	}
	a.Advance(t0.Add(31 * time.Second))
	if has(77, 1) {
		t.Fatal("ICMP mapping alive after 30 s")
	}
	a.Advance(t0.Add(99 * time.Second))
	if !has(4002, 6) {
		t.Fatal("transitory TCP gone before 100 s")
	}
	a.Advance(t0.Add(102 * time.Second))
	if has(4002, 6) || !has(4001, 6) {
		t.Fatal("transitory TCP alive after 100 s, or established TCP gone")
	}
	// UDP refreshed at 250 s lives until 550 s.
	a.Advance(t0.Add(250 * time.Second))
	a.FromB4(encap6(b4A, aftrAddr, udpOut(host, 4000)))
	a.Advance(t0.Add(540 * time.Second))
	if !has(4000, 17) {
		t.Fatal("refreshed UDP mapping gone")
	}
	a.Advance(t0.Add(560 * time.Second))
	if has(4000, 17) {
		t.Fatal("UDP mapping alive 310 s after its last packet")
	}
	// The established session closes with FIN: transitory timeout now.
	a.Advance(t0.Add(1000 * time.Second))
	if !has(4001, 6) {
		t.Fatal("established TCP gone before its timeout")
	}
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 6, sport: 4001, dport: 80, tcpFlags: 0x11}.bytes()))
	a.Advance(t0.Add(1201 * time.Second))
	if has(4001, 6) {
		t.Fatal("closed TCP mapping alive 200 s after FIN, transitory timeout 100 s")
	}
	if a.C.SessionsExpired != 4 || a.Sessions() != 0 {
		t.Fatalf("expired %d, left %d", a.C.SessionsExpired, a.Sessions())
	}
}

// TestICMPQueryTranslation: echo identifiers are mapped like ports (RFC
// 5508 REQ-1), and the reply finds its way back.
func TestICMPQueryTranslation(t *testing.T) {
	a, c := newTestAFTR(t, nil)
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 1, icmp: echo(8, 7, 1)}.bytes()))
	a.FromB4(encap6(b4B, aftrAddr, pkt4{src: host, dst: remote, proto: 1, icmp: echo(8, 7, 1)}.bytes()))
	if len(c.v4) != 2 {
		t.Fatal("echo requests not forwarded")
	}
	ids := []uint16{be.Uint16(c.v4[0][24:]), be.Uint16(c.v4[1][24:])}
	for _, p := range c.v4 {
		checkIPv4(t, p)
	}
	if ids[0] == ids[1] && bytes.Equal(c.v4[0][12:16], c.v4[1][12:16]) {
		t.Fatal("same external query identifier for two B4s")
	}
	ext := addr4(c.v4[1][12:])
	c.reset()
	a.FromInternet(pkt4{src: remote, dst: ext, proto: 1, icmp: echo(0, ids[1], 1)}.bytes())
	if len(c.v6) != 1 {
		t.Fatal("echo reply not forwarded")
	}
	in := decapTo(t, c.v6[0], b4B)
	if in[20] != 0 || be.Uint16(in[24:]) != 7 || addr4(in[16:]) != host {
		t.Fatalf("reply %x", in)
	}
}

// TestICMPErrorsTranslated: an error about a translated packet reaches
// the internal host with the quoted packet translated back (RFC 5508
// REQ-4), and an error from the host goes out with its quote translated
// (REQ-3).
func TestICMPErrorsTranslated(t *testing.T) {
	a, c := newTestAFTR(t, nil)
	orig := udpOut(host, 4000)
	a.FromB4(encap6(b4A, aftrAddr, bytes.Clone(orig)))
	sent := c.v4[0]
	ext := netip.AddrPortFrom(addr4(sent[12:]), be.Uint16(sent[20:]))
	c.reset()
	router := netip.MustParseAddr("192.0.2.254")
	body := append([]byte{3, 3, 0, 0, 0, 0}, sent[:28]...) // port unreachable, quoting header + 8
	a.FromInternet(pkt4{src: router, dst: ext.Addr(), proto: 1, icmp: body}.bytes())
	if len(c.v6) != 1 {
		t.Fatalf("error not forwarded: %+v", a.C)
	}
	in := decapTo(t, c.v6[0], b4A)
	if addr4(in[16:]) != host || addr4(in[12:]) != router {
		t.Fatalf("error addressed %v -> %v", addr4(in[12:]), addr4(in[16:]))
	}
	q := in[28:]
	if addr4(q[12:]) != host || be.Uint16(q[20:]) != 4000 || netpkt.Checksum(q[:20]) != 0 {
		t.Fatalf("quote not translated back: %x", q)
	}
	// The host answers an inbound packet with port unreachable.
	c.reset()
	inbound := pkt4{src: remote, dst: ext.Addr(), proto: 17, sport: 53, dport: ext.Port()}.bytes()
	a.FromInternet(inbound)
	got := decapTo(t, c.v6[0], b4A)
	c.reset()
	hostErr := append([]byte{3, 3, 0, 0, 0, 0}, got[:28]...)
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 1, icmp: hostErr}.bytes()))
	if len(c.v4) != 1 {
		t.Fatalf("host error not forwarded: %+v", a.C)
	}
	out := c.v4[0]
	checkIPv4(t, out)
	q = out[28:]
	if addr4(out[12:]) != ext.Addr() || addr4(q[16:]) != ext.Addr() || be.Uint16(q[22:]) != ext.Port() {
		t.Fatalf("host error quote not translated: %x", out)
	}
	// An error about a packet no mapping sent is dropped.
	c.reset()
	bogus := append([]byte{3, 3, 0, 0, 0, 0}, pkt4{src: ext.Addr(), dst: remote, proto: 17, sport: 1, dport: 2}.bytes()[:28]...)
	a.FromInternet(pkt4{src: router, dst: ext.Addr(), proto: 1, icmp: bogus}.bytes())
	if len(c.v6) != 0 {
		t.Fatal("error about an unknown mapping forwarded")
	}
}

// TestHairpin: a host reaches another B4's host through that host's
// external address and port, seeing the sender's external endpoint.
func TestHairpin(t *testing.T) {
	a, c := newTestAFTR(t, nil)
	a.FromB4(encap6(b4B, aftrAddr, udpOut(host, 6000)))
	extB := netip.AddrPortFrom(addr4(c.v4[0][12:]), be.Uint16(c.v4[0][20:]))
	c.reset()
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: extB.Addr(), proto: 17, sport: 7000, dport: extB.Port(), payload: []byte("hi")}.bytes()))
	if len(c.v6) != 1 || len(c.v4) != 0 {
		t.Fatalf("hairpin: %d to B4s, %d out", len(c.v6), len(c.v4))
	}
	in := decapTo(t, c.v6[0], b4B)
	extA, _ := a.Mapping(b4A, netip.AddrPortFrom(host, 7000), 17)
	if addr4(in[16:]) != host || be.Uint16(in[22:]) != 6000 || addr4(in[12:]) != extA.Addr() || be.Uint16(in[20:]) != extA.Port() {
		t.Fatalf("hairpinned %v:%d -> %v:%d", addr4(in[12:]), be.Uint16(in[20:]), addr4(in[16:]), be.Uint16(in[22:]))
	}
	if a.C.HairpinPackets != 1 {
		t.Fatal("hairpin not counted")
	}
	// Without hairpinning the packet goes out to the Internet side.
	a2, c2 := newTestAFTR(t, func(cfg *AFTRConfig) { cfg.Hairpinning = false })
	a2.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: extB.Addr(), proto: 17, sport: 7000, dport: extB.Port()}.bytes()))
	if len(c2.v4) != 1 || len(c2.v6) != 0 {
		t.Fatal("hairpinning off still turned the packet around")
	}
}

// TestTTL: an inner packet with TTL 1 is answered with time exceeded from
// 192.0.0.1 through the tunnel; none is translated.
func TestTTL(t *testing.T) {
	a, c := newTestAFTR(t, nil)
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 17, sport: 1, dport: 2, ttl: 1}.bytes()))
	if len(c.v4) != 0 || len(c.v6) != 1 || a.C.DropTTLZero != 1 || a.Sessions() != 0 || a.ActiveB4s() != 0 {
		t.Fatalf("TTL 1: out %d, back %d, sessions %d, B4s %d", len(c.v4), len(c.v6), a.Sessions(), a.ActiveB4s())
	}
	in := decapTo(t, c.v6[0], b4A)
	if in[20] != 11 || addr4(in[12:]) != AFTRInnerAddress || addr4(in[16:]) != host {
		t.Fatalf("time exceeded %x", in)
	}
}

// TestTunnelMTU: a full-size IPv4 packet towards a B4 is fragmented after
// encapsulation (RFC 6333 §5.3); fragments from a B4 are reassembled.
func TestTunnelMTU(t *testing.T) {
	a, c := newTestAFTR(t, func(cfg *AFTRConfig) { cfg.TunnelMTU = 1280 })
	a.FromB4(encap6(b4A, aftrAddr, udpOut(host, 4000)))
	ext := netip.AddrPortFrom(addr4(c.v4[0][12:]), be.Uint16(c.v4[0][20:]))
	c.reset()
	big := pkt4{src: remote, dst: ext.Addr(), proto: 17, sport: 53, dport: ext.Port(), df: true, payload: make([]byte, 1472)}.bytes()
	a.FromInternet(big)
	if len(c.v6) != 2 {
		t.Fatalf("%d packets for a 1500-byte packet over MTU 1280", len(c.v6))
	}
	r := netpkt.NewReassembler(4, 4)
	out := make([]byte, netpkt.MaxDatagram)
	var whole []byte
	for _, f := range c.v6 {
		if len(f) > 1280 || f[6] != netpkt.ProtoFragment {
			t.Fatalf("fragment of %d bytes, next header %d", len(f), f[6])
		}
		if w, st, _ := r.Add6(0, f, out); st == netpkt.ReasmDone {
			whole = w
		}
	}
	if whole == nil || len(whole) != 40+1500 {
		t.Fatal("fragments do not reassemble")
	}
	in := decapTo(t, whole, b4A)
	if be.Uint16(in[22:]) != 4000 {
		t.Fatal("reassembled packet not translated")
	}
	// The B4 fragments a big packet after encapsulation too.
	c.reset()
	up := encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 17, sport: 4000, dport: 53, payload: make([]byte, 1400)}.bytes())
	frag := make([]byte, 1500)
	for off := 0; off < len(up)-40; {
		var n int
		n, off = netpkt.Fragment6(frag, up[40:], off, 1280, netpkt.ProtoIPIP, 0, b4A.AsSlice(), aftrAddr.AsSlice(), 42)
		a.FromB4(bytes.Clone(frag[:n]))
	}
	if len(c.v4) != 1 || a.C.ReassembledIPv6 != 1 || len(c.v4[0]) != 1428 {
		t.Fatalf("upstream fragments: out %d, reassembled %d", len(c.v4), a.C.ReassembledIPv6)
	}
	checkIPv4(t, c.v4[0])
}

// TestExternalMTU: over the external MTU, DF gets fragmentation needed
// (quoting the host's own packet), no DF gets IPv4 fragments.
func TestExternalMTU(t *testing.T) {
	a, c := newTestAFTR(t, func(cfg *AFTRConfig) { cfg.ExternalMTU = 1000 })
	p := pkt4{src: host, dst: remote, proto: 17, sport: 4000, dport: 53, payload: make([]byte, 1200), df: true}.bytes()
	a.FromB4(encap6(b4A, aftrAddr, p))
	if len(c.v4) != 0 || len(c.v6) != 1 {
		t.Fatalf("DF over MTU: out %d, back %d", len(c.v4), len(c.v6))
	}
	in := decapTo(t, c.v6[0], b4A)
	if in[20] != 3 || in[21] != 4 || be.Uint16(in[26:]) != 1000 || addr4(in[28+12:]) != host || be.Uint16(in[48:]) != 4000 {
		t.Fatalf("frag needed %x", in[:56])
	}
	c.reset()
	p = pkt4{src: host, dst: remote, proto: 17, sport: 4000, dport: 53, payload: make([]byte, 1200)}.bytes()
	a.FromB4(encap6(b4A, aftrAddr, p))
	if len(c.v4) != 2 || a.C.FragmentedIPv4Out != 1 {
		t.Fatalf("no DF over MTU: %d fragments", len(c.v4))
	}
	for _, f := range c.v4 {
		if len(f) > 1000 || netpkt.Checksum(f[:20]) != 0 {
			t.Fatal("bad fragment")
		}
	}
}

// TestMSSClamp: SYNs in both directions get an MSS that fits the tunnel.
func TestMSSClamp(t *testing.T) {
	a, c := newTestAFTR(t, nil)
	mss := []byte{2, 4, 0x05, 0xb4, 1, 1, 4, 2} // MSS 1460, NOP, NOP, SACK permitted
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 6, sport: 4000, dport: 80, tcpFlags: 2, opts: mss}.bytes()))
	out := c.v4[0]
	checkIPv4(t, out)
	if got := be.Uint16(out[42:]); got != 1420 {
		t.Fatalf("MSS %d, want 1420", got)
	}
	ext := netip.AddrPortFrom(addr4(out[12:]), be.Uint16(out[20:]))
	a.FromInternet(pkt4{src: remote, dst: ext.Addr(), proto: 6, sport: 80, dport: ext.Port(), tcpFlags: 0x12, opts: mss}.bytes())
	in := decapTo(t, c.v6[0], b4A)
	if got := be.Uint16(in[42:]); got != 1420 {
		t.Fatalf("SYN-ACK MSS %d, want 1420", got)
	}
	small := []byte{2, 4, 0x02, 0x00}
	c.reset()
	a.FromB4(encap6(b4A, aftrAddr, pkt4{src: host, dst: remote, proto: 6, sport: 4001, dport: 80, tcpFlags: 2, opts: small}.bytes()))
	if be.Uint16(c.v4[0][42:]) != 512 {
		t.Fatal("a smaller MSS was changed")
	}
}

// TestBadInput: sources outside the B4 prefix, wrong endpoints,
// truncated inner headers and unknown protocols change nothing.
func TestBadInput(t *testing.T) {
	a, c := newTestAFTR(t, nil)
	stranger := netip.MustParseAddr("2001:db8:999::1")
	a.FromB4(encap6(stranger, aftrAddr, udpOut(host, 1)))
	if a.C.DropBadSource != 1 || len(c.v4) != 0 || a.ActiveB4s() != 0 {
		t.Fatal("source outside the B4 prefix accepted")
	}
	if len(c.v6) != 1 || c.v6[0][40] != 1 || c.v6[0][41] != 5 {
		t.Fatal("no ICMPv6 source-policy error")
	}
	c.reset()
	a.FromB4(encap6(b4A, netip.MustParseAddr("2001:db8:a::2"), udpOut(host, 1)))
	if a.C.DropNotForUs != 1 {
		t.Fatal("packet to another address accepted")
	}
	good := udpOut(host, 1)
	for _, n := range []int{0, 10, 19, 20, 24} { // inner header or UDP header cut short
		p := bytes.Clone(good[:n])
		if n >= 20 {
			be.PutUint16(p[2:], uint16(n))
			netpkt.SetIPv4Checksum(p)
		}
		a.FromB4(encap6(b4A, aftrAddr, p))
	}
	tcpShort := pkt4{src: host, dst: remote, proto: 6, sport: 1, dport: 2}.bytes()[:30]
	be.PutUint16(tcpShort[2:], 30)
	netpkt.SetIPv4Checksum(tcpShort)
	a.FromB4(encap6(b4A, aftrAddr, tcpShort))
	gre := pkt4{src: host, dst: remote, proto: 17}.bytes()
	gre[9] = 47
	netpkt.SetIPv4Checksum(gre)
	a.FromB4(encap6(b4A, aftrAddr, gre))
	a.FromB4([]byte{0x60, 0, 0})
	if len(c.v4)+len(c.v6) != 0 || a.Sessions() != 0 || a.ActiveB4s() != 0 {
		t.Fatalf("bad input produced output or state: %+v", a.C)
	}
	if a.C.DropMalformed6 != 7 || a.C.DropUnknownProto4 != 1 {
		t.Fatalf("counters %+v", a.C)
	}
	a.FromInternet([]byte{0x45, 0, 0, 10})
	a.FromInternet(pkt4{src: remote, dst: netip.MustParseAddr("8.8.8.8"), proto: 17}.bytes())
	if a.C.DropMalformed4 != 1 || a.C.DropNotForUs != 2 {
		t.Fatalf("counters %+v", a.C)
	}
}

// TestFragmentFlood: first fragments that never complete are held up to
// the bound, and translation keeps working.
func TestFragmentFlood(t *testing.T) {
	a, c := newTestAFTR(t, func(cfg *AFTRConfig) { cfg.MaxReassemblyPackets = 32 })
	for i := range 5000 {
		p := pkt4{src: host, dst: remote, proto: 17, sport: 1, dport: 2, payload: make([]byte, 64), identifier: uint16(i)}.bytes()
		p[6] = 0x20 // MF
		netpkt.SetIPv4Checksum(p)
		a.FromB4(encap6(b4A, aftrAddr, p))
	}
	if a.r4in.Pending() > 32 || len(c.v4) != 0 {
		t.Fatalf("%d partial packets, %d sent", a.r4in.Pending(), len(c.v4))
	}
	a.FromB4(encap6(b4A, aftrAddr, udpOut(host, 9)))
	if len(c.v4) != 1 {
		t.Fatal("translation stopped under a fragment flood")
	}
}

// TestBFDInsideTunnel: BFD to 192.0.0.1 reaches the hook with the B4's
// address; SendBFD builds a valid packet to 192.0.0.2 from the unicast
// address.
func TestBFDInsideTunnel(t *testing.T) {
	uni := netip.MustParseAddr("2001:db8:a::99")
	var got []netip.Addr
	a, c := newTestAFTR(t, func(cfg *AFTRConfig) {
		cfg.UnicastAddress = uni
		cfg.OnBFD = func(b4 netip.Addr, ttl uint8, payload []byte) {
			if ttl == 255 && string(payload) == "bfd!" {
				got = append(got, b4)
			}
		}
	})
	p := pkt4{src: B4InnerAddress, dst: AFTRInnerAddress, proto: 17, sport: 49152, dport: BFDPort, ttl: 255, payload: []byte("bfd!")}.bytes()
	a.FromB4(encap6(b4A, aftrAddr, bytes.Clone(p)))
	a.FromB4(encap6(b4B, uni, bytes.Clone(p)))
	if len(got) != 2 || got[0] != b4A || got[1] != b4B || a.Sessions() != 0 {
		t.Fatalf("BFD hook got %v", got)
	}
	a.SendBFD(b4A, []byte("bfd?"))
	o := c.v6[0]
	if netip.AddrFrom16([16]byte(o[8:24])) != uni || netip.AddrFrom16([16]byte(o[24:40])) != b4A {
		t.Fatal("BFD not from the unicast address")
	}
	in := o[40:]
	checkIPv4(t, in)
	if addr4(in[12:]) != AFTRInnerAddress || addr4(in[16:]) != B4InnerAddress || in[8] != 255 || be.Uint16(in[22:]) != BFDPort || string(in[28:]) != "bfd?" {
		t.Fatalf("BFD packet %x", in)
	}
}
