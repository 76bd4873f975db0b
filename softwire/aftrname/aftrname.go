// Package aftrname finds a DS-Lite B4's AFTR the way RFC 6334 says: a
// stateless DHCPv6 Information-request (RFC 8415 §18.2.6) asking for the
// AFTR-Name option (64) and the DNS servers option (23, RFC 3646), then a
// DNS AAAA query for that name to those servers.
//
// DHCPv6 messages are encoded and decoded with
// github.com/insomniacslk/dhcp; DNS with golang.org/x/net/dns/dnsmessage.
// Every socket is made by the calling goroutine, so a caller switched into
// a network namespace (tests) discovers inside it.
package aftrname

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/insomniacslk/dhcp/rfc1035label"
	"golang.org/x/net/dns/dnsmessage"
)

// Result is what one discovery learnt.
type Result struct {
	Name string       // the AFTR's FQDN (option 64)
	DNS  []netip.Addr // DNS servers from option 23
	// Addrs are the AAAA records of Name.
	Addrs []netip.Addr
	// Refresh is when to ask again (option 32, RFC 8415 §21.23; 24 h
	// when absent).
	Refresh time.Duration
}

// Errors a discovery reports.
var (
	ErrNoAFTRName = errors.New("aftrname: reply has no AFTR-Name option")
	ErrNoDNS      = errors.New("aftrname: no DNS server to resolve the AFTR name")
	ErrNoAnswer   = errors.New("aftrname: no DHCPv6 reply")
)

// Reply is the part of a DHCPv6 Reply a B4 uses.
type Reply struct {
	Name    string
	DNS     []netip.Addr
	Refresh time.Duration
}

// ParseReply decodes a DHCPv6 message and checks it is the Reply to
// transaction xid.
func ParseReply(b []byte, xid dhcpv6.TransactionID) (Reply, error) {
	m, err := dhcpv6.MessageFromBytes(b)
	if err != nil {
		return Reply{}, fmt.Errorf("aftrname: %w", err)
	}
	if m.MessageType != dhcpv6.MessageTypeReply || m.TransactionID != xid {
		return Reply{}, fmt.Errorf("aftrname: %s %#x is not the reply to %#x", m.MessageType, m.TransactionID, xid)
	}
	if st := m.Options.Status(); st != nil && st.StatusCode != iana.StatusSuccess {
		return Reply{}, fmt.Errorf("aftrname: server status %s: %s", st.StatusCode, st.StatusMessage)
	}
	r := Reply{Refresh: m.Options.InformationRefreshTime(24 * time.Hour)}
	for _, ip := range m.Options.DNS() {
		if a, ok := netip.AddrFromSlice(ip); ok {
			r.DNS = append(r.DNS, a)
		}
	}
	o := m.Options.GetOne(dhcpv6.OptionAFTRName)
	if o == nil {
		return r, ErrNoAFTRName
	}
	// RFC 6334 §3: one FQDN in DNS wire format, not compressed.
	l, err := rfc1035label.FromBytes(o.ToBytes())
	if err != nil || len(l.Labels) != 1 || l.Labels[0] == "" {
		return r, fmt.Errorf("aftrname: bad AFTR-Name option %x", o.ToBytes())
	}
	r.Name = l.Labels[0]
	return r, nil
}

// informationRequest builds the request of a client with DUID duid.
func informationRequest(duid dhcpv6.DUID, elapsed time.Duration) (*dhcpv6.Message, error) {
	m, err := dhcpv6.NewMessage()
	if err != nil {
		return nil, err
	}
	m.MessageType = dhcpv6.MessageTypeInformationRequest
	m.AddOption(dhcpv6.OptClientID(duid))
	m.AddOption(dhcpv6.OptRequestedOption(dhcpv6.OptionAFTRName, dhcpv6.OptionDNSRecursiveNameServer,
		dhcpv6.OptionInformationRefreshTime))
	m.AddOption(dhcpv6.OptElapsedTime(elapsed))
	return m, nil
}

// allServers is All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
var allServers = netip.MustParseAddr("ff02::1:2")

// Query asks the DHCPv6 servers on interface ifname for the AFTR name,
// retransmitting with RFC 8415's doubling timeout (IRT 1 s) until ctx
// ends.
func Query(ctx context.Context, ifname string) (Reply, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return Reply{}, fmt.Errorf("aftrname: %w", err)
	}
	var ll netip.Addr
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Is6() && ip.IsLinkLocalUnicast() {
				ll = ip.WithZone(ifname)
			}
		}
	}
	if !ll.IsValid() {
		return Reply{}, fmt.Errorf("aftrname: %s has no link-local IPv6 address", ifname)
	}
	c, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ll, dhcpv6.DefaultClientPort)))
	if err != nil {
		return Reply{}, fmt.Errorf("aftrname: %w", err)
	}
	defer c.Close()
	duid := &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: ifc.HardwareAddr}
	if len(ifc.HardwareAddr) == 0 {
		duid.LinkLayerAddr = net.HardwareAddr{0, 0, 0, 0, 0, 1}
	}
	start := time.Now()
	rt := time.Second
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(allServers.WithZone(ifname), dhcpv6.DefaultServerPort))
	buf := make([]byte, 65536)
	var lastErr error = ErrNoAnswer
	for {
		req, err := informationRequest(duid, time.Since(start))
		if err != nil {
			return Reply{}, err
		}
		if _, err := c.WriteToUDP(req.ToBytes(), dst); err != nil {
			return Reply{}, fmt.Errorf("aftrname: send: %w", err)
		}
		until := time.Now().Add(rt)
		if d, ok := ctx.Deadline(); ok && d.Before(until) {
			until = d
		}
		_ = c.SetReadDeadline(until)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				break // timeout: retransmit
			}
			r, err := ParseReply(buf[:n], req.TransactionID)
			if err == nil {
				return r, nil
			}
			lastErr = err
			if errors.Is(err, ErrNoAFTRName) {
				return r, err
			}
		}
		if ctx.Err() != nil {
			return Reply{}, fmt.Errorf("%w (%v)", lastErr, ctx.Err())
		}
		rt = min(2*rt, 30*time.Second)
	}
}

// Resolve asks the DNS servers for the AAAA records of name.
func Resolve(ctx context.Context, name string, servers []netip.Addr) ([]netip.Addr, error) {
	if len(servers) == 0 {
		return nil, ErrNoDNS
	}
	q, err := dnsmessage.NewName(dnsFQDN(name))
	if err != nil {
		return nil, fmt.Errorf("aftrname: name %q: %w", name, err)
	}
	var lastErr error
	for _, s := range servers {
		addrs, err := resolveAt(ctx, q, s)
		if err == nil {
			return addrs, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func dnsFQDN(name string) string {
	if len(name) > 0 && name[len(name)-1] == '.' {
		return name
	}
	return name + "."
}

func resolveAt(ctx context.Context, q dnsmessage.Name, server netip.Addr) ([]netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(server, 53)))
	if err != nil {
		return nil, fmt.Errorf("aftrname: %w", err)
	}
	defer c.Close()
	id := uint16(time.Now().UnixNano())
	msg := dnsmessage.Message{Header: dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: q, Type: dnsmessage.TypeAAAA, Class: dnsmessage.ClassINET}}}
	b, err := msg.Pack()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	for try := range 3 {
		if _, err := c.Write(b); err != nil {
			return nil, fmt.Errorf("aftrname: DNS %v: %w", server, err)
		}
		until := time.Now().Add(time.Second << try)
		if d, ok := ctx.Deadline(); ok && d.Before(until) {
			until = d
		}
		_ = c.SetReadDeadline(until)
		n, err := c.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("aftrname: DNS %v: %w", server, ctx.Err())
			}
			continue
		}
		addrs, err := ParseAAAA(buf[:n], id, q)
		if err != nil {
			return nil, fmt.Errorf("aftrname: DNS %v: %w", server, err)
		}
		return addrs, nil
	}
	return nil, fmt.Errorf("aftrname: DNS %v: no answer", server)
}

// ParseAAAA decodes a DNS response to query id for q and returns its
// AAAA answers for q.
func ParseAAAA(b []byte, id uint16, q dnsmessage.Name) ([]netip.Addr, error) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return nil, err
	}
	if h.ID != id || !h.Response {
		return nil, errors.New("not the response to our query")
	}
	if h.RCode != dnsmessage.RCodeSuccess {
		return nil, fmt.Errorf("rcode %v", h.RCode)
	}
	if err := p.SkipAllQuestions(); err != nil {
		return nil, err
	}
	var out []netip.Addr
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return nil, err
		}
		if rh.Type != dnsmessage.TypeAAAA || rh.Name.String() != q.String() {
			if err := p.SkipAnswer(); err != nil {
				return nil, err
			}
			continue
		}
		r, err := p.AAAAResource()
		if err != nil {
			return nil, err
		}
		out = append(out, netip.AddrFrom16(r.AAAA))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no AAAA record for %s", q)
	}
	return out, nil
}

// Discover runs Query on ifname, then Resolve with the servers it named.
func Discover(ctx context.Context, ifname string) (Result, error) {
	r, err := Query(ctx, ifname)
	if err != nil {
		return Result{}, err
	}
	res := Result{Name: r.Name, DNS: r.DNS, Refresh: r.Refresh}
	res.Addrs, err = Resolve(ctx, r.Name, r.DNS)
	return res, err
}
