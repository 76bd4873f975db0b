package dslite

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// The addresses inside every softwire (RFC 6333 §5.7).
var (
	AFTRInnerAddress = netip.MustParseAddr("192.0.0.1")
	B4InnerAddress   = netip.MustParseAddr("192.0.0.2")
)

// BFDPort is the UDP port of single-hop BFD control packets (RFC 5881),
// which BFD inside a softwire uses (seed 000).
const BFDPort = 3784

// bfdSourcePort is the source port of the BFD packets the engines send
// (RFC 5881 §4: 49152..65535, the same for all packets of a session).
const bfdSourcePort = 49152

// Timeouts are the idle timeouts of NAT sessions by protocol and state.
type Timeouts struct {
	TCPEstablished, TCPTransitory, UDP, ICMP time.Duration
}

// DefaultTimeouts are the YANG defaults (RFC 5382 REQ-5: at least 2 h 4
// min established and 4 min transitory; RFC 4787 REQ-5: UDP at least 2
// min, 5 recommended; RFC 5508 REQ-1: ICMP query 60 s).
var DefaultTimeouts = Timeouts{TCPEstablished: 7440 * time.Second, TCPTransitory: 240 * time.Second,
	UDP: 300 * time.Second, ICMP: 60 * time.Second}

// PortBlockEvent reports one port block given to or taken from a B4 (RFC
// 6888 REQ-12: enough to answer "who had this address and port then").
type PortBlockEvent struct {
	Time      time.Time
	B4        netip.Addr
	External  netip.Addr
	PortStart uint16
	PortEnd   uint16
	Allocated bool // false: released
}

// AFTRConfig configures an AFTR.
type AFTRConfig struct {
	// TunnelEndpoint is the IPv6 address B4s tunnel to (it may be an
	// anycast address shared by several AFTRs) and the source of
	// encapsulated packets sent to B4s.
	TunnelEndpoint netip.Addr
	// UnicastAddress, when set, is this AFTR's own IPv6 address: it is
	// accepted as a tunnel endpoint too and is the source of the BFD
	// packets and ICMPv6 messages the AFTR originates, so that behind an
	// anycast endpoint a B4 still sees which AFTR answers.
	UnicastAddress netip.Addr
	// InnerAddress is the AFTR's IPv4 address inside the softwires
	// (192.0.0.1 when unset).
	InnerAddress netip.Addr
	// B4Prefixes are where B4 addresses may come from; packets from
	// other sources are dropped and counted. Empty accepts any.
	B4Prefixes []netip.Prefix
	// TunnelMTU is the largest IPv6 packet sent to a B4 (1500 when
	// unset); larger ones are fragmented after encapsulation (RFC 6333
	// §5.3). ExternalMTU is the IPv4 side's MTU (1500 when unset).
	TunnelMTU, ExternalMTU int
	Hairpinning            bool

	// Pools are the public IPv4 prefixes sessions are translated to.
	Pools []netip.Prefix
	// PortStart..PortEnd are the ports of each public address that may
	// be allocated (1024..65535 when both are zero).
	PortStart, PortEnd uint16
	// PortBlockSize is how many contiguous ports a B4 receives at once
	// (1 when zero: ports one at a time).
	PortBlockSize    uint16
	MaxSessionsPerB4 uint32 // 4096 when zero
	MaxPortsPerB4    uint16 // 2048 when zero
	// MaxB4s bounds the B4s served at once (1<<20 when zero).
	MaxB4s int
	// MaxSessions bounds the NAT sessions of all B4s (1<<22 when zero).
	MaxSessions int
	Timeouts    Timeouts // DefaultTimeouts where zero

	// Reassembly bounds (1024 packets, 16 fragments each when zero).
	MaxReassemblyPackets, MaxFragmentsPerPacket int
	// ICMPErrorsPerSecond limits the ICMP errors the AFTR sends (100
	// when zero).
	ICMPErrorsPerSecond int

	// OnPortBlock, when set, is told about every port block allocation
	// and release, after the engine logged it.
	OnPortBlock func(PortBlockEvent)
	// OnBFD, when set, receives the payload of every BFD control packet
	// a B4 sends to the AFTR's inner address, with the B4's IPv6 address
	// and the inner TTL. payload is only valid during the call.
	OnBFD func(b4 netip.Addr, ttl uint8, payload []byte)
	// OnB4, when set, is told when the AFTR starts holding state for a
	// B4 (its first NAT session) and when it stops (its last one ended):
	// an AFTR that is active in BFD starts and ends its sessions on it.
	OnB4 func(b4 netip.Addr, present bool)
	Log  *slog.Logger
}

func (c *AFTRConfig) setDefaults() {
	if !c.InnerAddress.IsValid() {
		c.InnerAddress = AFTRInnerAddress
	}
	if c.TunnelMTU == 0 {
		c.TunnelMTU = 1500
	}
	if c.ExternalMTU == 0 {
		c.ExternalMTU = 1500
	}
	if c.PortStart == 0 && c.PortEnd == 0 {
		c.PortStart, c.PortEnd = 1024, 65535
	}
	if c.PortBlockSize == 0 {
		c.PortBlockSize = 1
	}
	if c.MaxSessionsPerB4 == 0 {
		c.MaxSessionsPerB4 = 4096
	}
	if c.MaxPortsPerB4 == 0 {
		c.MaxPortsPerB4 = 2048
	}
	if c.MaxB4s == 0 {
		c.MaxB4s = 1 << 20
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = 1 << 22
	}
	d := DefaultTimeouts
	t := &c.Timeouts
	for _, f := range []struct {
		v *time.Duration
		d time.Duration
	}{{&t.TCPEstablished, d.TCPEstablished},
		{&t.TCPTransitory, d.TCPTransitory}, {&t.UDP, d.UDP}, {&t.ICMP, d.ICMP}} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	if c.MaxReassemblyPackets == 0 {
		c.MaxReassemblyPackets = 1024
	}
	if c.MaxFragmentsPerPacket == 0 {
		c.MaxFragmentsPerPacket = 16
	}
	if c.ICMPErrorsPerSecond == 0 {
		c.ICMPErrorsPerSecond = 100
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Check validates c as NewAFTR will, defaults filled.
func (c AFTRConfig) Check() error {
	c.setDefaults()
	return c.Validate()
}

// Validate checks a configuration after defaults.
func (c *AFTRConfig) Validate() error {
	if !c.TunnelEndpoint.Is6() || c.TunnelEndpoint.Is4In6() {
		return fmt.Errorf("dslite: tunnel endpoint %v is not an IPv6 address", c.TunnelEndpoint)
	}
	if c.UnicastAddress.IsValid() && !c.UnicastAddress.Is6() {
		return fmt.Errorf("dslite: unicast address %v is not an IPv6 address", c.UnicastAddress)
	}
	if !c.InnerAddress.Is4() {
		return fmt.Errorf("dslite: inner address %v is not an IPv4 address", c.InnerAddress)
	}
	for _, p := range c.B4Prefixes {
		if !p.Addr().Is6() {
			return fmt.Errorf("dslite: B4 prefix %v is not IPv6", p)
		}
	}
	if c.TunnelMTU < 1280 || c.ExternalMTU < 576 || c.TunnelMTU > 65535 || c.ExternalMTU > 65535 {
		return fmt.Errorf("dslite: MTUs %d (tunnel) and %d (external) out of range", c.TunnelMTU, c.ExternalMTU)
	}
	if len(c.Pools) == 0 {
		return errors.New("dslite: no NAT pool")
	}
	n := 0
	for i, p := range c.Pools {
		if !p.Addr().Is4() || p.Bits() < 8 {
			return fmt.Errorf("dslite: pool %v must be an IPv4 prefix of /8 or longer", p)
		}
		for _, q := range c.Pools[:i] {
			if p.Overlaps(q) {
				return fmt.Errorf("dslite: pools %v and %v overlap", q, p)
			}
		}
		n += 1 << (32 - p.Bits())
	}
	if n > 1<<20 {
		return fmt.Errorf("dslite: %d pool addresses, at most %d", n, 1<<20)
	}
	if c.PortStart == 0 || c.PortStart > c.PortEnd {
		return fmt.Errorf("dslite: port range %d..%d", c.PortStart, c.PortEnd)
	}
	if int(c.PortEnd-c.PortStart)+1 < int(c.PortBlockSize) {
		return fmt.Errorf("dslite: port block size %d larger than the port range %d..%d", c.PortBlockSize, c.PortStart, c.PortEnd)
	}
	if c.MaxPortsPerB4 < c.PortBlockSize {
		return fmt.Errorf("dslite: max ports per B4 %d below the port block size %d", c.MaxPortsPerB4, c.PortBlockSize)
	}
	if c.MaxSessions > 1<<30 || c.MaxB4s > 1<<30 {
		return errors.New("dslite: session or B4 bound above 2^30")
	}
	return nil
}
