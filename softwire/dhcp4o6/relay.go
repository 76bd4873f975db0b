package dhcp4o6

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv6"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// Relay is the DHCPv6 relay agent of a lwAFTR (RFC 8415 §19), as the seed
// has it ("lwAFTRs: DHCPv6 relay, unicast to DHCP server"): client
// messages from the B4 side are wrapped in Relay-forward and sent to the
// servers; Relay-reply messages are unwrapped and sent back to the client.
// On the way it follows the DHCPv4-over-DHCPv6 exchange, and a DHCPACK
// for a B4 that named its softwire address (RFC 8539
// OPTION_S46_BIND_IPV6_PREFIX) is a successful provisioning: OnBinding is
// called with the binding before the DHCPACK goes on to the client, so
// the lwAFTR holds the binding by the time the B4 uses it (seed: "Primary
// lwAFTR creates the dynamic binding upon successful lwB4 provisioning").
//
// The client side is either a kernel socket (Conn also receives the
// clients' messages, on [::]:547 joined to ff02::1:2: a relay on the B4
// link) or the lwAFTR's data plane (Local set: the engine hands over UDP
// packets to its anycast address through FromClient, and Send transmits
// the answers from that address, so the relay is reached wherever the
// network routes the anycast address and the kernel never owns it).
//
// Relay agents between the clients and us (a router relaying its link's
// multicast to the anycast address) are relayed for in turn (RFC 8415
// §19.1.2): their Relay-forward is wrapped again, the Relay-reply inside
// ours goes back to them on port 547.
//
// Everything from the network is bounded: client packets by size, by a
// token-bucket rate and by a fixed queue; server messages are taken only
// from the configured servers; remembered transactions are capped.
type Relay struct {
	// Conn is the socket towards the servers (port 547: servers answer
	// a relay agent there). ListenRelay makes one that also hears the
	// clients on a link.
	Conn *net.UDPConn
	// Servers are the DHCPv6 servers (Kea in 4o6 mode): every client
	// message is relayed to each (RFC 8415 §19.1.1), and only messages
	// from one of them (address and port) are taken as server messages.
	Servers []netip.AddrPort
	// Iface is the zone of link-local client addresses in kernel-socket
	// mode (a name, or an index when the socket lives in another network
	// namespace than the caller).
	Iface string
	// LinkAddr is the link-address of Relay-forward, by which the server
	// picks the subnet (RFC 8415 §19.1.1).
	LinkAddr netip.Addr
	// InterfaceID is sent as OPTION_INTERFACE_ID, by which the server
	// (Kea's "4o6-interface-id") can tell the B4 link; Iface when nil.
	InterfaceID []byte
	// BR is the lwAFTR address put in the bindings (the anycast address).
	BR [16]byte
	// Local, when valid, puts the client side on the data plane: clients
	// send to Local (the anycast address), port 547; answers go from it.
	Local netip.Addr
	// Send transmits one IPv6 packet to the client side (data-plane mode);
	// it must not block, and p is valid only during the call.
	Send func(p []byte)
	// InService reports whether the lwAFTR is in service; out of service
	// (draining, shutting down) client messages are not relayed, so a
	// lwAFTR leaving the set provisions no new B4. Nil: always.
	InService func() bool
	// Rate client messages per second at most, Burst at once (defaults
	// 100 and 50).
	Rate, Burst float64
	// OnBinding receives each successful provisioning, on the relay's
	// goroutine, before the DHCPACK is passed on; lease is the DHCPv4
	// lease time (0 when the server gave none). An error (the binding
	// could not be made) is counted and logged; the DHCPACK still goes on.
	OnBinding func(b bindingtable.Softwire, lease time.Duration) error
	Log       *slog.Logger

	mu sync.Mutex
	// b4s remembers, per DHCPv4 transaction and client, the softwire
	// address the client named in its query; bounded, oldest dropped.
	b4s   map[txKey][16]byte
	order []txKey

	// Data-plane client side: a bounded queue of packet buffers.
	rl      tokenBucket
	inbox   chan []byte
	free    chan []byte
	started atomic.Bool

	C RelayCounters
}

// RelayCounters count what the relay did, all monotonic.
type RelayCounters struct {
	ClientMessages    atomic.Uint64 // messages from clients accepted for relaying
	Forwarded         atomic.Uint64 // Relay-forward messages sent (one per server)
	Replied           atomic.Uint64 // server answers passed on to clients
	Bindings          atomic.Uint64 // DHCPACKs that made a binding
	BindingErrors     atomic.Uint64 // DHCPACKs whose binding could not be made
	DropMalformed     atomic.Uint64 // undecodable client or server messages
	DropRateLimited   atomic.Uint64 // client messages beyond the rate
	DropQueueFull     atomic.Uint64 // client messages beyond the queue
	DropTooBig        atomic.Uint64 // client packets beyond maxClientPacket
	DropNotServer     atomic.Uint64 // server-side messages from an unknown source
	DropOutOfService  atomic.Uint64 // client messages while out of service
	DropWrongType     atomic.Uint64 // server-only types from clients and the like
	SendErrors        atomic.Uint64 // sends that failed
	TransactionsEvict atomic.Uint64 // remembered transactions dropped for room
}

// maxTransactions bounds the remembered queries.
const maxTransactions = 4096

// maxClientPacket bounds a client's IPv6 packet on the data plane: DHCPv6
// client messages are small (a DHCPv4 message in a DHCPv4-query is
// under 600 bytes).
const maxClientPacket = 1500

// inboxDepth is how many client packets may wait for the relay's goroutine.
const inboxDepth = 64

// txKey is one DHCPv4 transaction of one client: an ACK binds only the
// client that asked: its address (peer), and the relay agent it came
// through (via: the sender of the datagram we got, the client itself
// when it sent to us directly; link-local client addresses repeat from
// link to link).
type txKey struct {
	xid  uint32
	peer [16]byte
	via  [16]byte
}

// hopCountLimit is HOP_COUNT_LIMIT (RFC 8415 §7.6).
const hopCountLimit = 8

// ListenRelay opens [::]:547 and joins All_DHCP_Relay_Agents_and_Servers
// on iface: a relay whose clients are on that link.
func ListenRelay(iface string) (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{Port: 547})
	if err != nil {
		return nil, err
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := ipv6.NewPacketConn(c).JoinGroup(ifi, &net.UDPAddr{IP: AllServers.AsSlice()}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (r *Relay) init() {
	if r.started.Swap(true) {
		return
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
	rate, burst := r.Rate, r.Burst
	if rate <= 0 {
		rate = 100
	}
	if burst <= 0 {
		burst = 50
	}
	r.rl = tokenBucket{rate: rate, burst: burst, tokens: burst}
	r.mu.Lock()
	r.b4s = map[txKey][16]byte{}
	r.mu.Unlock()
	r.inbox = make(chan []byte, inboxDepth)
	r.free = make(chan []byte, inboxDepth)
	for range inboxDepth {
		r.free <- make([]byte, maxClientPacket)
	}
}

// Init prepares the relay's bounded state; FromClient may be called once
// it returned (Serve calls it too).
func (r *Relay) Init() { r.init() }

// FromClient takes an IPv6 packet the data plane received for Local (UDP,
// any port): a DHCPv6 client message to port 547 is queued for the
// relay's goroutine, within the rate and the queue; anything else is
// refused. It never blocks and does not keep p. Safe for several engines
// at once.
func (r *Relay) FromClient(p []byte) bool {
	if len(p) < 48 || p[6] != 17 || be.Uint16(p[42:]) != 547 {
		return false
	}
	if len(p) > maxClientPacket {
		r.C.DropTooBig.Add(1)
		return true
	}
	if r.InService != nil && !r.InService() {
		r.C.DropOutOfService.Add(1)
		return true
	}
	r.mu.Lock()
	ok := r.rl.take(time.Now())
	r.mu.Unlock()
	if !ok {
		r.C.DropRateLimited.Add(1)
		return true
	}
	var b []byte
	select {
	case b = <-r.free:
	default:
		r.C.DropQueueFull.Add(1)
		return true
	}
	b = b[:len(p)]
	copy(b, p)
	r.inbox <- b // never blocks: as many buffers as room
	return true
}

// Serve relays until ctx ends or the socket closes.
func (r *Relay) Serve(ctx context.Context) error {
	r.init()
	go func() { <-ctx.Done(); r.Conn.Close() }()
	if r.Local.IsValid() {
		go r.serveInbox(ctx)
	}
	buf := make([]byte, 65536)
	out := make([]byte, 0, 65536)
	for {
		n, from, err := r.Conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		b := buf[:n]
		if n == 0 {
			continue
		}
		if r.isServer(from) {
			if b[0] != MsgRelayRepl {
				r.C.DropWrongType.Add(1)
				continue
			}
			out = r.reply(b, out[:0])
			continue
		}
		if r.Local.IsValid() {
			// The clients are on the data plane: nothing else may
			// talk to us here.
			r.C.DropNotServer.Add(1)
			continue
		}
		if r.InService != nil && !r.InService() {
			r.C.DropOutOfService.Add(1)
			continue
		}
		r.mu.Lock()
		ok := r.rl.take(time.Now())
		r.mu.Unlock()
		if !ok {
			r.C.DropRateLimited.Add(1)
			continue
		}
		out = r.forward(b, from, out[:0])
	}
}

// isServer reports whether a message comes from a listed server: its
// address and port (a server answers from the port it serves on).
func (r *Relay) isServer(from netip.AddrPort) bool {
	a := from.Addr().Unmap().WithZone("")
	for _, s := range r.Servers {
		if s.Addr().WithZone("") == a && s.Port() == from.Port() {
			return true
		}
	}
	return false
}

// serveInbox relays the client packets the data plane queued.
func (r *Relay) serveInbox(ctx context.Context) {
	out := make([]byte, 0, 4096)
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-r.inbox:
			if payload, from, ok := udp6(p); ok {
				out = r.forward(payload, from, out[:0])
			} else {
				r.C.DropMalformed.Add(1)
			}
			r.free <- p[:cap(p)]
		}
	}
}

// udp6 checks the UDP header and checksum of an IPv6 packet and returns
// the payload and the sender.
func udp6(p []byte) ([]byte, netip.AddrPort, bool) {
	ip, ok := netpkt.CheckIPv6(p)
	if !ok || len(ip) < 48 || ip[6] != 17 {
		return nil, netip.AddrPort{}, false
	}
	u := ip[40:]
	ul := int(be.Uint16(u[4:]))
	if ul < 8 || ul > len(u) {
		return nil, netip.AddrPort{}, false
	}
	u = u[:ul]
	if be.Uint16(u[6:]) == 0 || netpkt.L4Checksum6(ip[8:24], ip[24:40], 17, u) != 0 {
		// A zero checksum is not allowed in IPv6 (RFC 8200 §8.1).
		return nil, netip.AddrPort{}, false
	}
	src := netip.AddrFrom16([16]byte(ip[8:24]))
	return u[8:], netip.AddrPortFrom(src, be.Uint16(u)), true
}

// forward relays a client's message, or a Relay-forward from another
// relay agent (RFC 8415 §19.1.2: a router relaying its link's multicast
// to the anycast address), wrapped in a Relay-forward of our own.
func (r *Relay) forward(b []byte, from netip.AddrPort, out []byte) []byte {
	if len(b) == 0 {
		r.C.DropMalformed.Add(1)
		return out
	}
	switch b[0] {
	case MsgRelayRepl, MsgAdvertise, MsgReply, MsgDHCPv4Answer:
		// Not from a client.
		r.C.DropWrongType.Add(1)
		return out
	}
	via := from.Addr().As16()
	inner, peer, hops, err := innermost(b, MsgRelayForw)
	if err == nil && hops > 0 && b[1] >= hopCountLimit {
		err = fmt.Errorf("hop-count %d: at the limit", b[1])
	}
	var m Message
	if err == nil {
		m, err = ParseMessage(inner)
	}
	if err != nil {
		r.C.DropMalformed.Add(1)
		r.Log.Debug("relay: bad client message", "from", from, "err", err)
		return out
	}
	if hops == 0 {
		peer = via
	}
	if m.Type == MsgDHCPv4Query {
		r.remember(m, peer, via)
	}
	r.C.ClientMessages.Add(1)
	var hop uint8
	if hops > 0 {
		hop = b[1] + 1
	}
	rf := RelayMessage{Type: MsgRelayForw, HopCount: hop, LinkAddr: r.LinkAddr.As16(), PeerAddr: via, Contained: b,
		Options: []Option{{OptInterfaceID, r.interfaceID()}}}
	out = rf.Append(out)
	for _, s := range r.Servers {
		if _, err := r.Conn.WriteToUDPAddrPort(out, s); err != nil {
			r.C.SendErrors.Add(1)
			r.Log.Warn("relay: send to server", "server", s, "err", err)
			continue
		}
		r.C.Forwarded.Add(1)
	}
	return out
}

func (r *Relay) interfaceID() []byte {
	if r.InterfaceID != nil {
		return r.InterfaceID
	}
	return []byte(r.Iface)
}

// innermost unwraps relay messages of type typ (at most hopCountLimit of
// them) and returns the message inside, the peer-address of the
// innermost relay message (the client) and how many there were.
func innermost(b []byte, typ uint8) ([]byte, [16]byte, int, error) {
	var peer [16]byte
	for n := 0; ; n++ {
		if len(b) == 0 || b[0] != typ {
			return b, peer, n, nil
		}
		if n == hopCountLimit {
			return nil, peer, n, fmt.Errorf("more than %d nested relay messages", hopCountLimit)
		}
		rm, err := ParseRelay(b)
		if err != nil {
			return nil, peer, n, err
		}
		peer, b = rm.PeerAddr, rm.Contained
	}
}

// remember keeps the softwire address a DHCPREQUEST names, by DHCPv4 xid
// and client.
func (r *Relay) remember(m Message, peer, via [16]byte) {
	d, ok := Get(m.Options, OptDHCPv4Msg)
	if !ok {
		return
	}
	m4, err := ParseMessage4(d)
	if err != nil || m4.Type() != Request {
		return
	}
	bp, ok := Get(m.Options, OptS46BindPrefix)
	if !ok || len(bp) != 17 || bp[0] != 128 {
		return
	}
	k := txKey{m4.XID, peer, via}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, had := r.b4s[k]; !had {
		r.order = append(r.order, k)
		if len(r.order) > maxTransactions {
			delete(r.b4s, r.order[0])
			r.order = r.order[1:]
			r.C.TransactionsEvict.Add(1)
		}
	}
	r.b4s[k] = [16]byte(bp[1:])
}

func (r *Relay) reply(b []byte, out []byte) []byte {
	rr, err := ParseRelay(b)
	if err != nil {
		r.C.DropMalformed.Add(1)
		r.Log.Debug("relay: bad relay-reply", "err", err)
		return out
	}
	// The binding first: the B4 uses it as soon as it has the DHCPACK.
	r.snoop(rr.Contained, rr.PeerAddr)
	to := netip.AddrFrom16(rr.PeerAddr)
	// A Relay-reply inside goes to the relay agent that sent us the
	// Relay-forward, on its port 547 (RFC 8415 §19.2); anything else to
	// the client's 546.
	port := uint16(546)
	if len(rr.Contained) > 0 && rr.Contained[0] == MsgRelayRepl {
		port = 547
	}
	if r.Local.IsValid() {
		out = r.udpTo(out, to, port, rr.Contained)
		if r.Send == nil {
			r.C.SendErrors.Add(1)
			return out
		}
		r.Send(out)
		r.C.Replied.Add(1)
		return out
	}
	if to.IsLinkLocalUnicast() {
		to = to.WithZone(r.Iface)
	}
	if _, err := r.Conn.WriteToUDPAddrPort(rr.Contained, netip.AddrPortFrom(to, port)); err != nil {
		r.C.SendErrors.Add(1)
		r.Log.Warn("relay: send to client", "client", to, "err", err)
		return out
	}
	r.C.Replied.Add(1)
	return out
}

// udpTo builds the IPv6 packet of msg from [Local]:547 to [to]:port.
func (r *Relay) udpTo(out []byte, to netip.Addr, port uint16, msg []byte) []byte {
	n := 40 + 8 + len(msg)
	if cap(out) < n {
		out = make([]byte, 0, n)
	}
	out = out[:n]
	src, dst := r.Local.As16(), to.As16()
	netpkt.WriteIPv6Header(out, 0, 8+len(msg), 17, src[:], dst[:])
	u := out[40:]
	be.PutUint16(u[0:], 547)
	be.PutUint16(u[2:], port)
	be.PutUint16(u[4:], uint16(8+len(msg)))
	be.PutUint16(u[6:], 0)
	copy(u[8:], msg)
	c := netpkt.L4Checksum6(src[:], dst[:], 17, u)
	if c == 0 {
		c = 0xffff
	}
	be.PutUint16(u[6:], c)
	return out
}

// snoop turns a DHCPACK inside a DHCPv4-response (inside the Relay-reply
// messages of relays between, if any) into a binding; via is the
// peer-address of our own Relay-reply.
func (r *Relay) snoop(b []byte, via [16]byte) {
	b, peer, hops, err := innermost(b, MsgRelayRepl)
	if err != nil {
		return
	}
	if hops == 0 {
		peer = via
	}
	m, err := ParseMessage(b)
	if err != nil || m.Type != MsgDHCPv4Answer {
		return
	}
	d, ok := Get(m.Options, OptDHCPv4Msg)
	if !ok {
		return
	}
	m4, err := ParseMessage4(d)
	if err != nil || m4.Type() != Ack {
		return
	}
	k := txKey{m4.XID, peer, via}
	r.mu.Lock()
	b4, ok := r.b4s[k]
	r.mu.Unlock()
	if !ok {
		r.Log.Info("relay: DHCPACK for a B4 that named no softwire address; no binding", "yiaddr", netip.AddrFrom4(m4.YIAddr))
		r.C.BindingErrors.Add(1)
		return
	}
	sw := bindingtable.Softwire{IPv4: be.Uint32(m4.YIAddr[:]), B4: b4, BR: r.BR}
	if pp, ok := m4.Get4(Opt4PortParams); ok {
		p, err := ParsePortParams(pp)
		if err != nil {
			r.C.BindingErrors.Add(1)
			r.Log.Warn("relay: DHCPACK with bad port parameters; no binding", "err", err)
			return
		}
		sw.PSID, sw.PortSet = p.PSID, bindingtable.PortSet{Offset: p.Offset, Length: p.PSIDLen}
	}
	var lease time.Duration
	if lt, ok := m4.Get4(Opt4LeaseTime); ok && len(lt) == 4 {
		lease = time.Duration(be.Uint32(lt)) * time.Second
	}
	if r.OnBinding != nil {
		if err := r.OnBinding(sw, lease); err != nil {
			r.C.BindingErrors.Add(1)
			r.Log.Warn("relay: no binding for a DHCPACK", "yiaddr", netip.AddrFrom4(m4.YIAddr), "b4-ipv6", netip.AddrFrom16(b4), "err", err)
			return
		}
	}
	r.C.Bindings.Add(1)
}

// tokenBucket is a rate limit; the caller serializes.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (t *tokenBucket) take(now time.Time) bool {
	if !t.last.IsZero() {
		t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*t.rate)
	}
	t.last = now
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}
