package dhcp4o6

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/lwb4"
)

// AllServers is All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
var AllServers = netip.MustParseAddr("ff02::1:2")

// Lease is the outcome of a provisioning.
type Lease struct {
	Binding   lwb4.Binding
	LeaseTime time.Duration
	ServerID  [4]byte
	Server    netip.AddrPort // the DHCPv6 side that answered
}

// Client provisions one lwB4: an Information-request for the S46
// container and the DHCPv4-over-DHCPv6 servers, then DHCPDISCOVER and
// DHCPREQUEST inside DHCPv4-query messages (RFC 7341 §5, RFC 7598 §5).
type Client struct {
	Conn *net.UDPConn // bound to [link-local%if]:546
	// Iface is the zone of link-local and multicast destinations: an
	// interface name, or its index when the socket lives in another
	// network namespace than the caller.
	Iface string
	MAC   net.HardwareAddr
	// B4 is the softwire IPv6 address, sent in OPTION_S46_BIND_IPV6_PREFIX
	// (RFC 8539) so the provisioning side knows the tunnel endpoint.
	B4 netip.Addr
	// Server, when valid, is where every message goes instead of
	// All_DHCP_Relay_Agents_and_Servers on the link: a relay or server
	// reached by unicast (a lwAFTR set's anycast address, whose relay
	// answers wherever the network routes it). Conn must then be bound
	// to a global address.
	Server netip.Addr
	// Timeout of each try; Tries per message (defaults 1 s, 4).
	Timeout time.Duration
	Tries   int
	buf     []byte
}

func (c *Client) duid() []byte {
	// DUID-LL (RFC 8415 §11.4): type 3, hardware type 1 (Ethernet).
	return append([]byte{0, 3, 0, 1}, c.MAC...)
}

// exchange sends msg to dst and returns the first answer of type want
// whose transaction id matches (for DHCPv4-query, the DHCPv4 xid is
// matched by the caller).
func (c *Client) exchange(ctx context.Context, dst netip.AddrPort, msg []byte, accept func([]byte) bool) ([]byte, error) {
	if c.buf == nil {
		c.buf = make([]byte, 65536)
	}
	to, tries := c.Timeout, c.Tries
	if to <= 0 {
		to = time.Second
	}
	if tries <= 0 {
		tries = 4
	}
	ua := net.UDPAddrFromAddrPort(dst)
	for range tries {
		if _, err := c.Conn.WriteToUDP(msg, ua); err != nil {
			return nil, fmt.Errorf("send to %v: %w", dst, err)
		}
		end := time.Now().Add(to)
		if d, ok := ctx.Deadline(); ok && d.Before(end) {
			end = d
		}
		for {
			_ = c.Conn.SetReadDeadline(end)
			n, _, err := c.Conn.ReadFromUDPAddrPort(c.buf)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					break
				}
				return nil, err
			}
			if accept(c.buf[:n]) {
				return append([]byte(nil), c.buf[:n]...), nil
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("no answer from %v after %d tries", dst, tries)
}

func xid() uint32 {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
}

// Provision runs the exchange and returns the lease.
func (c *Client) Provision(ctx context.Context) (Lease, error) {
	var l Lease
	mcast := netip.AddrPortFrom(AllServers.WithZone(c.Iface), 547)
	var flags uint32
	if c.Server.IsValid() {
		// RFC 7341 §6.2: the unicast flag says the query went to a
		// unicast address.
		mcast, flags = netip.AddrPortFrom(c.Server, 547), 1<<23
	}
	// 1. Information-request: S46 container (the BR) and the 4o6 servers.
	id := xid()
	oro := be.AppendUint16(be.AppendUint16(nil, OptDHCP4o6Server), OptS46ContLW)
	ir := Message{Type: MsgInfoRequest, XID: id, Options: []Option{
		{OptClientID, c.duid()}, {OptORO, oro}, {OptElapsedTime, []byte{0, 0}}}}.Append(nil)
	var reply Message
	_, err := c.exchange(ctx, mcast, ir, func(b []byte) bool {
		m, err := ParseMessage(b)
		if err == nil && m.Type == MsgReply && m.XID == id {
			reply = m
			return true
		}
		return false
	})
	if err != nil {
		return l, fmt.Errorf("information-request: %w", err)
	}
	cont, ok := Get(reply.Options, OptS46ContLW)
	if !ok {
		return l, errors.New("reply without OPTION_S46_CONT_LW: no lwAFTR to tunnel to")
	}
	lw, err := ParseContLW(cont)
	if err != nil {
		return l, err
	}
	l.Binding.BR = lw.BR[0].As16()
	if lw.Bind != nil {
		// The binding came in the container itself (RFC 7598 §4.4).
		l.Binding.IPv4 = be.Uint32(lw.Bind.IPv4[:])
		if pp := lw.Bind.PortParams; pp != nil {
			l.Binding.PSID, l.Binding.PortSet = pp.PSID, bindingtable.PortSet{Offset: pp.Offset, Length: pp.PSIDLen}
		}
		return l, nil
	}
	dst := mcast
	if sl, ok := Get(reply.Options, OptDHCP4o6Server); ok {
		srv, err := ParseServerList(sl)
		if err != nil {
			return l, err
		}
		if len(srv) > 0 {
			// A listed server is reached by unicast (RFC 7341 §5: U flag).
			dst, flags = netip.AddrPortFrom(srv[0], 547), 1<<23
		}
	}
	// 2. DHCPDISCOVER / DHCPOFFER, 3. DHCPREQUEST / DHCPACK.
	x4 := uint32(xid())<<8 | 0x4
	mk := func(typ byte, extra ...Option4) []byte {
		m4 := Message4{Op: 1, HType: 1, HLen: 6, XID: x4}
		copy(m4.CHAddr[:], c.MAC)
		m4.Options = append([]Option4{{Opt4MsgType, []byte{typ}},
			{Opt4ClientID, append([]byte{1}, c.MAC...)},
			{Opt4ParamList, []byte{Opt4SubnetMask, Opt4LeaseTime, Opt4ServerID, Opt4PortParams}}}, extra...)
		q := Message{Type: MsgDHCPv4Query, XID: flags, Options: []Option{{OptDHCPv4Msg, m4.Append(nil)}}}
		if c.B4.IsValid() {
			a := c.B4.As16()
			q.Options = append(q.Options, Option{OptS46BindPrefix, append([]byte{128}, a[:]...)})
		}
		return q.Append(nil)
	}
	answer := func(want uint8, got *Message4) func([]byte) bool {
		return func(b []byte) bool {
			m, err := ParseMessage(b)
			if err != nil || m.Type != MsgDHCPv4Answer {
				return false
			}
			d, ok := Get(m.Options, OptDHCPv4Msg)
			if !ok {
				return false
			}
			m4, err := ParseMessage4(d)
			if err != nil || m4.XID != x4 || m4.Op != 2 {
				return false
			}
			if t := m4.Type(); t == want || t == Nak {
				*got = m4
				return true
			}
			return false
		}
	}
	var offer, ack Message4
	if _, err := c.exchange(ctx, dst, mk(Discover), answer(Offer, &offer)); err != nil {
		return l, fmt.Errorf("dhcpdiscover: %w", err)
	}
	if offer.Type() != Offer {
		return l, errors.New("dhcpdiscover answered with DHCPNAK")
	}
	sid, _ := offer.Get4(Opt4ServerID)
	if len(sid) != 4 {
		return l, errors.New("dhcpoffer without a server identifier")
	}
	if _, err := c.exchange(ctx, dst, mk(Request, Option4{Opt4RequestedIP, offer.YIAddr[:]}, Option4{Opt4ServerID, sid}), answer(Ack, &ack)); err != nil {
		return l, fmt.Errorf("dhcprequest: %w", err)
	}
	if ack.Type() != Ack {
		return l, errors.New("dhcprequest answered with DHCPNAK")
	}
	l.Binding.IPv4 = be.Uint32(ack.YIAddr[:])
	copy(l.ServerID[:], sid)
	if lt, ok := ack.Get4(Opt4LeaseTime); ok && len(lt) == 4 {
		l.LeaseTime = time.Duration(be.Uint32(lt)) * time.Second
	}
	if pp, ok := ack.Get4(Opt4PortParams); ok {
		p, err := ParsePortParams(pp)
		if err != nil {
			return l, fmt.Errorf("dhcpack: %w", err)
		}
		l.Binding.PSID, l.Binding.PortSet = p.PSID, bindingtable.PortSet{Offset: p.Offset, Length: p.PSIDLen}
	}
	l.Server = dst
	return l, nil
}
