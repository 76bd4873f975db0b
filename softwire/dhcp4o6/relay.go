package dhcp4o6

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv6"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
)

// Relay is the DHCPv6 relay agent of a lwAFTR (RFC 8415 §19), as the seed
// has it ("lwAFTRs: DHCPv6 relay, unicast to DHCP server"): client
// messages from the B4 link are wrapped in Relay-forward and sent to the
// server; Relay-reply messages are unwrapped and sent back to the client.
// On the way it follows the DHCPv4-over-DHCPv6 exchange, and a DHCPACK
// for a B4 that named its softwire address (RFC 8539
// OPTION_S46_BIND_IPV6_PREFIX) is a successful provisioning: OnBinding is
// called with the binding, so the lwAFTR creates it (seed: "Primary lwAFTR
// creates the dynamic binding upon successful lwB4 provisioning").
type Relay struct {
	// Conn is the socket on port 547 (ListenRelay makes one).
	Conn *net.UDPConn
	// Iface is the B4-facing interface, by name or by index (the index
	// when the socket lives in another network namespace than the
	// caller: names are resolved where the call runs); LinkAddr a global
	// address of ours on it (the link-address of Relay-forward, by which
	// the server picks the subnet).
	Iface    string
	LinkAddr netip.Addr
	// InterfaceID is sent as OPTION_INTERFACE_ID, by which the server
	// (Kea's "4o6-interface-id") can tell the B4 link; Iface when nil.
	InterfaceID []byte
	// Server is the DHCPv6 server (Kea) to relay to.
	Server netip.AddrPort
	// BR is the lwAFTR address put in the bindings (the anycast address).
	BR [16]byte
	// OnBinding receives each successful provisioning, on the relay's
	// goroutine.
	OnBinding func(b bindingtable.Softwire, lease time.Duration)
	Log       *slog.Logger

	mu sync.Mutex
	// b4s remembers, per DHCPv4 transaction, the softwire address the
	// client named in its query; bounded, oldest dropped.
	b4s   map[uint32][16]byte
	order []uint32

	Forwarded, Replied, Bindings, Dropped atomic.Uint64
}

// maxTransactions bounds the remembered queries.
const maxTransactions = 4096

// ListenRelay opens [::]:547 and joins All_DHCP_Relay_Agents_and_Servers
// on iface.
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

// Serve relays until ctx ends or the socket closes.
func (r *Relay) Serve(ctx context.Context) error {
	if r.Log == nil {
		r.Log = slog.Default()
	}
	r.b4s = map[uint32][16]byte{}
	go func() { <-ctx.Done(); r.Conn.Close() }()
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
		switch b[0] {
		case MsgRelayRepl:
			out = r.reply(b, out[:0])
		case MsgRelayForw, MsgAdvertise, MsgReply, MsgDHCPv4Answer:
			r.Dropped.Add(1) // not from a client
		default:
			out = r.forward(b, from, out[:0])
		}
	}
}

func (r *Relay) forward(b []byte, from netip.AddrPort, out []byte) []byte {
	m, err := ParseMessage(b)
	if err != nil {
		r.Dropped.Add(1)
		r.Log.Debug("relay: bad client message", "from", from, "err", err)
		return out
	}
	if m.Type == MsgDHCPv4Query {
		r.remember(m)
	}
	peer := from.Addr().As16()
	rf := RelayMessage{Type: MsgRelayForw, LinkAddr: r.LinkAddr.As16(), PeerAddr: peer, Contained: b,
		Options: []Option{{OptInterfaceID, r.interfaceID()}}}
	out = rf.Append(out)
	if _, err := r.Conn.WriteToUDPAddrPort(out, r.Server); err != nil {
		r.Log.Warn("relay: send to server", "server", r.Server, "err", err)
		return out
	}
	r.Forwarded.Add(1)
	return out
}

func (r *Relay) interfaceID() []byte {
	if r.InterfaceID != nil {
		return r.InterfaceID
	}
	return []byte(r.Iface)
}

// remember keeps the softwire address a DHCPv4-query names, by DHCPv4 xid.
func (r *Relay) remember(m Message) {
	d, ok := Get(m.Options, OptDHCPv4Msg)
	if !ok {
		return
	}
	m4, err := ParseMessage4(d)
	if err != nil || m4.Type() != Request {
		return
	}
	bp, ok := Get(m.Options, OptS46BindPrefix)
	if !ok || len(bp) < 1 || bp[0] != 128 || len(bp) != 17 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, had := r.b4s[m4.XID]; !had {
		r.order = append(r.order, m4.XID)
		if len(r.order) > maxTransactions {
			delete(r.b4s, r.order[0])
			r.order = r.order[1:]
		}
	}
	r.b4s[m4.XID] = [16]byte(bp[1:])
}

func (r *Relay) reply(b []byte, out []byte) []byte {
	rr, err := ParseRelay(b)
	if err != nil {
		r.Dropped.Add(1)
		r.Log.Debug("relay: bad relay-reply", "err", err)
		return out
	}
	to := netip.AddrFrom16(rr.PeerAddr)
	if to.IsLinkLocalUnicast() {
		to = to.WithZone(r.Iface)
	}
	if _, err := r.Conn.WriteToUDPAddrPort(rr.Contained, netip.AddrPortFrom(to, 546)); err != nil {
		r.Log.Warn("relay: send to client", "client", to, "err", err)
		return out
	}
	r.Replied.Add(1)
	r.snoop(rr.Contained)
	return out
}

// snoop turns a DHCPACK inside a DHCPv4-response into a binding.
func (r *Relay) snoop(b []byte) {
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
	r.mu.Lock()
	b4, ok := r.b4s[m4.XID]
	r.mu.Unlock()
	if !ok {
		r.Log.Info("relay: DHCPACK for a B4 that named no softwire address; no binding", "yiaddr", netip.AddrFrom4(m4.YIAddr))
		return
	}
	sw := bindingtable.Softwire{IPv4: be.Uint32(m4.YIAddr[:]), B4: b4, BR: r.BR}
	if pp, ok := m4.Get4(Opt4PortParams); ok {
		p, err := ParsePortParams(pp)
		if err != nil {
			r.Log.Warn("relay: DHCPACK with bad port parameters; no binding", "err", err)
			return
		}
		sw.PSID, sw.PortSet = p.PSID, bindingtable.PortSet{Offset: p.Offset, Length: p.PSIDLen}
	}
	var lease time.Duration
	if lt, ok := m4.Get4(Opt4LeaseTime); ok && len(lt) == 4 {
		lease = time.Duration(be.Uint32(lt)) * time.Second
	}
	r.Bindings.Add(1)
	if r.OnBinding != nil {
		r.OnBinding(sw, lease)
	}
}
