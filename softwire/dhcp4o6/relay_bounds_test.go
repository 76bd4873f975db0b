package dhcp4o6

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// dpRelay is a relay in data-plane mode on loopback: its server-side
// socket on [::1], one "server" socket the test reads Relay-forward from
// and answers with, and the packets the relay sends to clients.
type dpRelay struct {
	r      *Relay
	server *net.UDPConn
	mu     sync.Mutex
	sent   [][]byte
	bound  chan bindingtable.Softwire
}

var (
	dpAnycast = netip.MustParseAddr("2001:db8:ac::1")
	dpClientA = netip.MustParseAddr("2001:db8:b4::a")
	dpClientB = netip.MustParseAddr("2001:db8:b4::b")
)

func newDPRelay(t testing.TB, rate, burst float64) *dpRelay {
	conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	srv, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	d := &dpRelay{server: srv, bound: make(chan bindingtable.Softwire, 4)}
	d.r = &Relay{Conn: conn, Servers: []netip.AddrPort{srv.LocalAddr().(*net.UDPAddr).AddrPort()},
		LinkAddr: netip.MustParseAddr("2001:db8:b4::1"), InterfaceID: []byte("b4-link"), BR: dpAnycast.As16(),
		Local: dpAnycast, Rate: rate, Burst: burst, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Send:      func(p []byte) { d.mu.Lock(); d.sent = append(d.sent, append([]byte(nil), p...)); d.mu.Unlock() },
		OnBinding: func(b bindingtable.Softwire, _ time.Duration) error { d.bound <- b; return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); srv.Close() })
	d.r.Init()
	go d.r.Serve(ctx)
	return d
}

// clientPacket is the IPv6 packet of DHCPv6 message msg from [src]:546
// to the anycast address, port 547.
func clientPacket(src netip.Addr, msg []byte) []byte {
	p := make([]byte, 48+len(msg))
	s, d := src.As16(), dpAnycast.As16()
	netpkt.WriteIPv6Header(p, 0, 8+len(msg), 17, s[:], d[:])
	be.PutUint16(p[40:], 546)
	be.PutUint16(p[42:], 547)
	be.PutUint16(p[44:], uint16(8+len(msg)))
	copy(p[48:], msg)
	be.PutUint16(p[46:], netpkt.L4Checksum6(s[:], d[:], 17, p[40:]))
	return p
}

// query is a DHCPv4-query holding a DHCPv4 message of type typ and
// transaction xid, naming softwire address b4.
func query(typ uint8, xid uint32, b4 netip.Addr) []byte {
	m4 := Message4{Op: 1, HType: 1, HLen: 6, XID: xid, Options: []Option4{{Opt4MsgType, []byte{typ}}}}.Append(nil)
	a := b4.As16()
	return Message{Type: MsgDHCPv4Query, Options: []Option{{OptDHCPv4Msg, m4}, {OptS46BindPrefix, append([]byte{128}, a[:]...)}}}.Append(nil)
}

// readForward reads one Relay-forward at the server.
func (d *dpRelay) readForward(t *testing.T) (RelayMessage, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 4096)
	_ = d.server.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := d.server.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no Relay-forward at the server: %v", err)
	}
	rf, err := ParseRelay(buf[:n])
	if err != nil || rf.Type != MsgRelayForw {
		t.Fatalf("server got %x: %v", buf[:n], err)
	}
	return rf, from
}

// TestRelayDataPlane: a client message handed over by the data plane
// is relayed to the server as Relay-forward (peer and link addresses,
// interface-id); the server's Relay-reply goes back as an IPv6 packet
// from the anycast address to the client's port 546 with a valid
// checksum; a DHCPACK binds only the client that sent the DHCPREQUEST of
// that transaction, whatever another client claimed with the same xid.
func TestRelayDataPlane(t *testing.T) {
	d := newDPRelay(t, 1000, 1000)
	if !d.r.FromClient(clientPacket(dpClientA, query(Request, 42, netip.MustParseAddr("2001:db8:b4::a4")))) {
		t.Fatal("FromClient refused a DHCPv4-query")
	}
	rf, relayAddr := d.readForward(t)
	if netip.AddrFrom16(rf.PeerAddr) != dpClientA || netip.AddrFrom16(rf.LinkAddr) != d.r.LinkAddr {
		t.Fatalf("Relay-forward peer %v link %v", netip.AddrFrom16(rf.PeerAddr), netip.AddrFrom16(rf.LinkAddr))
	}
	if id, ok := Get(rf.Options, OptInterfaceID); !ok || string(id) != "b4-link" {
		t.Fatalf("interface-id %q %v", id, ok)
	}
	// Another client claims the same transaction for its own address.
	d.r.FromClient(clientPacket(dpClientB, query(Request, 42, netip.MustParseAddr("2001:db8:b4::b4"))))
	d.readForward(t)

	// The server's DHCPACK for client A.
	ack := Message4{Op: 2, XID: 42, YIAddr: [4]byte{192, 0, 2, 10},
		Options: []Option4{{Opt4MsgType, []byte{Ack}}, {Opt4LeaseTime, []byte{0, 0, 0x0e, 0x10}}, {Opt4PortParams, []byte{6, 4, 0x50, 0}}}}.Append(nil)
	resp := Message{Type: MsgDHCPv4Answer, Options: []Option{{OptDHCPv4Msg, ack}}}.Append(nil)
	rr := RelayMessage{Type: MsgRelayRepl, LinkAddr: rf.LinkAddr, PeerAddr: dpClientA.As16(), Contained: resp}.Append(nil)
	if _, err := d.server.WriteToUDPAddrPort(rr, relayAddr); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-d.bound:
		want := bindingtable.Softwire{IPv4: 0xc000020a, PSID: 5, PortSet: bindingtable.PortSet{Offset: 6, Length: 4},
			B4: netip.MustParseAddr("2001:db8:b4::a4").As16(), BR: dpAnycast.As16()}
		if b != want {
			t.Fatalf("binding %+v, want %+v (client A's address, not the one B claimed)", b, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no binding from the DHCPACK")
	}
	var sent []byte
	for end := time.Now().Add(5 * time.Second); sent == nil && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		d.mu.Lock()
		if len(d.sent) > 0 {
			sent = d.sent[0]
		}
		d.mu.Unlock()
	}
	payload, from, ok := udp6(sent)
	if !ok || from != netip.AddrPortFrom(dpAnycast, 547) || netip.AddrFrom16([16]byte(sent[24:40])) != dpClientA ||
		be.Uint16(sent[42:]) != 546 || string(payload) != string(resp) {
		t.Fatalf("answer to the client: ok %v from %v % x", ok, from, sent)
	}
	if d.r.C.ClientMessages.Load() != 2 || d.r.C.Forwarded.Load() != 2 || d.r.C.Replied.Load() != 1 || d.r.C.Bindings.Load() != 1 {
		t.Fatalf("counters: client %d forwarded %d replied %d bindings %d", d.r.C.ClientMessages.Load(),
			d.r.C.Forwarded.Load(), d.r.C.Replied.Load(), d.r.C.Bindings.Load())
	}
}

// TestRelayBadInput: what the relay refuses, each with its counter, and
// nothing relayed: non-DHCP UDP (left to the engine), oversized
// packets, bad checksums, server message types from clients, messages
// out of service and beyond the rate; on the server side, messages from
// an address that is no server and non-Relay-reply messages from a
// server.
func TestRelayBadInput(t *testing.T) {
	d := newDPRelay(t, 0.001, 3)
	good := clientPacket(dpClientA, Message{Type: MsgInfoRequest, XID: 1}.Append(nil))
	dns := append([]byte(nil), good...)
	be.PutUint16(dns[42:], 53)
	if d.r.FromClient(dns) || d.r.FromClient(good[:40]) {
		t.Fatal("FromClient took UDP that is not to port 547, or a truncated packet")
	}
	big := clientPacket(dpClientA, make([]byte, 1600))
	d.r.FromClient(big)
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 0xff
	d.r.FromClient(bad)
	d.r.FromClient(clientPacket(dpClientA, Message{Type: MsgReply, XID: 1}.Append(nil)))
	out := false
	d.r.InService = func() bool { return !out }
	out = true
	d.r.FromClient(good)
	out = false
	// Burst 3, almost no refill: the first good message is relayed,
	// further ones beyond the burst are not.
	for range 5 {
		d.r.FromClient(good)
	}
	d.readForward(t)
	// Server side: a stranger, and a server sending a client type.
	stranger, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	to := d.r.Conn.LocalAddr().(*net.UDPAddr).AddrPort()
	rr := RelayMessage{Type: MsgRelayRepl, PeerAddr: dpClientA.As16(), Contained: Message{Type: MsgReply}.Append(nil)}.Append(nil)
	stranger.WriteToUDPAddrPort(rr, to)
	d.server.WriteToUDPAddrPort(Message{Type: MsgReply}.Append(nil), to)
	d.server.WriteToUDPAddrPort([]byte{MsgRelayRepl, 0, 1}, to)
	c := &d.r.C
	waitCounters := func() bool {
		return c.DropNotServer.Load() == 1 && c.DropWrongType.Load() == 2 && c.DropMalformed.Load() == 2
	}
	for end := time.Now().Add(5 * time.Second); !waitCounters() && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
	}
	if c.DropTooBig.Load() != 1 || c.DropOutOfService.Load() != 1 || c.DropRateLimited.Load() < 1 || !waitCounters() {
		t.Fatalf("too-big %d out-of-service %d rate-limited %d not-server %d wrong-type %d malformed %d",
			c.DropTooBig.Load(), c.DropOutOfService.Load(), c.DropRateLimited.Load(), c.DropNotServer.Load(), c.DropWrongType.Load(), c.DropMalformed.Load())
	}
	if c.Replied.Load() != 0 || c.Bindings.Load() != 0 {
		t.Fatalf("replied %d bindings %d after bad input", c.Replied.Load(), c.Bindings.Load())
	}
	// The queue is bounded: a burst from the data plane beyond it is
	// dropped, never blocks.
	q := newDPRelay(t, 1e9, 1e9)
	for range 10 * inboxDepth {
		q.r.FromClient(good)
	}
	if q.r.C.DropQueueFull.Load()+q.r.C.ClientMessages.Load() == 0 {
		t.Fatal("nothing counted for a burst")
	}
}

// FuzzRelay feeds arbitrary bytes to the relay's client side (the data
// plane's IPv6 packet) and server side (a Relay-reply): nothing panics,
// and what goes to a client is a well-formed UDP packet from the anycast
// address.
func FuzzRelay(f *testing.F) {
	f.Add(clientPacket(dpClientA, query(Request, 7, dpClientB)))
	f.Add(RelayMessage{Type: MsgRelayRepl, PeerAddr: dpClientA.As16(), Contained: Message{Type: MsgDHCPv4Answer,
		Options: []Option{{OptDHCPv4Msg, Message4{Op: 2, XID: 7, Options: []Option4{{Opt4MsgType, []byte{Ack}}, {Opt4PortParams, []byte{6, 4, 0x50, 0}}}}.Append(nil)}}}.Append(nil)}.Append(nil))
	conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		f.Skip("no IPv6 loopback")
	}
	defer conn.Close()
	var sent []byte
	r := &Relay{Conn: conn, Servers: []netip.AddrPort{netip.MustParseAddrPort("[::1]:9")}, LinkAddr: dpClientA, Local: dpAnycast,
		BR: dpAnycast.As16(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Send: func(p []byte) { sent = append(sent[:0], p...) },
		OnBinding: func(bindingtable.Softwire, time.Duration) error { return nil }}
	r.Init()
	f.Fuzz(func(t *testing.T, b []byte) {
		if payload, from, ok := udp6(b); ok {
			r.forward(payload, from, nil)
		}
		sent = nil
		r.reply(b, nil)
		if sent != nil {
			if _, from, ok := udp6(sent); !ok || from.Addr() != dpAnycast {
				t.Fatalf("answer % x", sent)
			}
		}
	})
}

// TestRelayChain: a Relay-forward from another relay agent (a router
// relaying its link's multicast to the anycast address) is relayed in a
// Relay-forward of ours with hop-count one more and the router as peer;
// the server's answer goes back to the router's port 547 as the inner
// Relay-reply, and its DHCPACK binds the client named inside. A
// Relay-forward at HOP_COUNT_LIMIT is dropped.
func TestRelayChain(t *testing.T) {
	d := newDPRelay(t, 1000, 1000)
	router := netip.MustParseAddr("2001:db8:b4::1")
	client := netip.MustParseAddr("fe80::b4")
	b4 := netip.MustParseAddr("2001:db8:b4::b4")
	inner := RelayMessage{Type: MsgRelayForw, LinkAddr: router.As16(), PeerAddr: client.As16(), Contained: query(Request, 9, b4)}.Append(nil)
	d.r.FromClient(clientPacket(router, inner))
	rf, relayAddr := d.readForward(t)
	if rf.HopCount != 1 || netip.AddrFrom16(rf.PeerAddr) != router || string(rf.Contained) != string(inner) {
		t.Fatalf("Relay-forward hop %d peer %v", rf.HopCount, netip.AddrFrom16(rf.PeerAddr))
	}
	ack := Message4{Op: 2, XID: 9, YIAddr: [4]byte{192, 0, 2, 11}, Options: []Option4{{Opt4MsgType, []byte{Ack}}}}.Append(nil)
	resp := Message{Type: MsgDHCPv4Answer, Options: []Option{{OptDHCPv4Msg, ack}}}.Append(nil)
	innerRR := RelayMessage{Type: MsgRelayRepl, LinkAddr: router.As16(), PeerAddr: client.As16(), Contained: resp}.Append(nil)
	rr := RelayMessage{Type: MsgRelayRepl, HopCount: 1, LinkAddr: rf.LinkAddr, PeerAddr: router.As16(), Contained: innerRR}.Append(nil)
	if _, err := d.server.WriteToUDPAddrPort(rr, relayAddr); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-d.bound:
		if b.B4 != b4.As16() || b.IPv4 != 0xc000020b {
			t.Fatalf("binding %+v", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no binding through the chain")
	}
	var sent []byte
	for end := time.Now().Add(5 * time.Second); sent == nil && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		d.mu.Lock()
		if len(d.sent) > 0 {
			sent = d.sent[0]
		}
		d.mu.Unlock()
	}
	payload, _, ok := udp6(sent)
	if !ok || netip.AddrFrom16([16]byte(sent[24:40])) != router || be.Uint16(sent[42:]) != 547 || string(payload) != string(innerRR) {
		t.Fatalf("answer to the router: % x", sent)
	}
	limit := RelayMessage{Type: MsgRelayForw, HopCount: hopCountLimit, PeerAddr: client.As16(), Contained: query(Request, 10, b4)}.Append(nil)
	before := d.r.C.DropMalformed.Load()
	d.r.FromClient(clientPacket(router, limit))
	for end := time.Now().Add(5 * time.Second); d.r.C.DropMalformed.Load() == before && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
	}
	if d.r.C.DropMalformed.Load() != before+1 || d.r.C.ClientMessages.Load() != 1 {
		t.Fatalf("a Relay-forward at the hop limit: malformed %d, relayed %d", d.r.C.DropMalformed.Load()-before, d.r.C.ClientMessages.Load())
	}
}
