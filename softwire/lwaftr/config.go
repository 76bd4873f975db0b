package lwaftr

import (
	"fmt"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
)

// Side is the configuration of one interface of the lwAFTR.
type Side struct {
	// IP is our address on this side: 4 bytes outside, 16 inside.
	IP  []byte
	MAC [6]byte
	// NextHopMAC, when NextHopMACSet, is where traffic goes; otherwise it
	// is resolved from NextHopIP by ARP (outside) or NDP (inside).
	NextHopMAC         [6]byte
	NextHopMACSet      bool
	NextHopIP          []byte
	VLAN               uint16 // 0: untagged
	MTU                int
	AllowIncomingICMP  bool
	GenerateICMPErrors bool
	// ErrorRatePackets ICMP errors at most per ErrorRatePeriod seconds.
	ErrorRatePackets      uint32
	ErrorRatePeriod       uint32
	MaxFragmentsPerPacket int
	MaxPackets            int
	IngressFilter         string
	EgressFilter          string
}

// Config is the whole engine configuration apart from the bindings.
type Config struct {
	External, Internal Side
	Hairpinning        bool
	OnAStick           bool
}

// DefaultSide returns the YANG defaults of a side.
func DefaultSide(external bool) Side {
	s := Side{AllowIncomingICMP: true, GenerateICMPErrors: true, ErrorRatePackets: 600000, ErrorRatePeriod: 2,
		MaxFragmentsPerPacket: 40, MaxPackets: 20000, MTU: 1500}
	if external {
		s.MTU = 1460
	}
	return s
}

// Validate checks what the engine relies on.
func (c *Config) Validate() error {
	if len(c.External.IP) != 4 {
		return fmt.Errorf("external-interface: ip must be an IPv4 address")
	}
	if len(c.Internal.IP) != 16 {
		return fmt.Errorf("internal-interface: ip must be an IPv6 address")
	}
	for _, s := range []struct {
		name string
		side *Side
		alen int
		min  int
	}{{"external-interface", &c.External, 4, 68}, {"internal-interface", &c.Internal, 16, 1280}} {
		if !s.side.NextHopMACSet && len(s.side.NextHopIP) != s.alen {
			return fmt.Errorf("%s: next-hop needs a mac or an ip", s.name)
		}
		if s.side.MTU < s.min || s.side.MTU > 65535 {
			return fmt.Errorf("%s: mtu %d out of range %d..65535", s.name, s.side.MTU, s.min)
		}
		if s.side.MaxFragmentsPerPacket < 1 || s.side.MaxPackets < 1 {
			return fmt.Errorf("%s: reassembly limits must be positive", s.name)
		}
		for _, f := range []string{s.side.IngressFilter, s.side.EgressFilter} {
			if f != "" {
				if _, err := CompileFilter(f); err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
			}
		}
	}
	return nil
}

// Binding is re-exported so callers need not import bindingtable for the
// common case.
type Binding = bindingtable.Softwire
