package softwire

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/softwire/dslite"
)

// The DS-Lite part of the adapter: /softwire/aftr and /softwire/b4 to
// engine configuration. Errors name the leaf at fault.

// aftrSetup is what /softwire/aftr asks for.
type aftrSetup struct {
	Engine                   dslite.AFTRConfig
	InternalDev, ExternalDev string
	ExternalAddress          netip.Addr
	ExternalNextHop          netip.Addr
	InternalNextHop          netip.Addr
	BFD                      bool
	BFDProfile               string
	BFDMax                   int
	BFDIdle                  time.Duration
	// BFDActive: the AFTR starts sessions to the B4s it holds NAT state
	// for (automatic-passive false); BFDPeers are the B4s of
	// /bfd/softwire/session with role aftr, which get a session at once.
	BFDActive bool
	BFDPeers  []netip.Addr
}

const aftrPath = "/softwire/aftr"

func addrLeaf(path string, v *string, want6 bool) (netip.Addr, error) {
	if v == nil {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(*v)
	if err != nil || a.Is6() != want6 || a.Is4In6() {
		fam := "IPv4"
		if want6 {
			fam = "IPv6"
		}
		return netip.Addr{}, fmt.Errorf("%s: %q is not an %s address", path, *v, fam)
	}
	return a, nil
}

func aftrSetupOf(dev *gen.Device) (aftrSetup, error) {
	c := dev.GetSoftwire().GetAftr()
	var s aftrSetup
	var err error
	e := &s.Engine
	if e.TunnelEndpoint, err = addrLeaf(aftrPath+"/tunnel-endpoint", c.TunnelEndpoint, true); err != nil {
		return s, err
	}
	if !e.TunnelEndpoint.IsValid() {
		return s, fmt.Errorf("%s/tunnel-endpoint: required when the AFTR is enabled", aftrPath)
	}
	if e.UnicastAddress, err = addrLeaf(aftrPath+"/unicast-address", c.UnicastAddress, true); err != nil {
		return s, err
	}
	inner := c.GetInnerAddress()
	if e.InnerAddress, err = addrLeaf(aftrPath+"/inner-address", &inner, false); err != nil {
		return s, err
	}
	for _, p := range c.B4Prefix {
		pfx, err := netip.ParsePrefix(p)
		if err != nil || !pfx.Addr().Is6() {
			return s, fmt.Errorf("%s/b4-prefix: %q is not an IPv6 prefix", aftrPath, p)
		}
		e.B4Prefixes = append(e.B4Prefixes, pfx.Masked())
	}
	e.TunnelMTU = int(c.GetTunnelMtu())
	e.Hairpinning = c.GetHairpinning()
	n := c.GetNat44()
	for p := range n.Pool {
		pfx, err := netip.ParsePrefix(p)
		if err != nil || !pfx.Addr().Is4() {
			return s, fmt.Errorf("%s/nat44/pool[prefix=%s]: not an IPv4 prefix", aftrPath, p)
		}
		e.Pools = append(e.Pools, pfx)
	}
	if len(e.Pools) == 0 {
		return s, fmt.Errorf("%s/nat44/pool: at least one pool is required when the AFTR is enabled", aftrPath)
	}
	pr := n.GetPortRange()
	e.PortStart, e.PortEnd = pr.GetStart(), pr.GetEnd()
	if e.PortStart > e.PortEnd {
		return s, fmt.Errorf("%s/nat44/port-range: start %d is above end %d", aftrPath, e.PortStart, e.PortEnd)
	}
	if n.PortBlockSize != nil {
		e.PortBlockSize = *n.PortBlockSize
	}
	e.MaxSessionsPerB4 = n.GetMaxSessionsPerB4()
	e.MaxPortsPerB4 = n.GetMaxPortsPerB4()
	t := n.GetTimeouts()
	sec := func(v uint32) time.Duration { return time.Duration(v) * time.Second }
	e.Timeouts = dslite.Timeouts{TCPEstablished: sec(t.GetTcpEstablished()), TCPTransitory: sec(t.GetTcpTransitory()),
		UDP: sec(t.GetUdp()), ICMP: sec(t.GetIcmp())}
	if err := e.Check(); err != nil {
		return s, fmt.Errorf("%s/nat44: %w", aftrPath, err)
	}
	s.InternalDev = c.GetInternalDevice()
	if s.InternalDev == "" {
		return s, fmt.Errorf("%s/internal-device: required when the AFTR is enabled", aftrPath)
	}
	s.ExternalDev = c.GetExternalDevice()
	if s.ExternalDev == "" {
		s.ExternalDev = s.InternalDev
	}
	if s.ExternalAddress, err = addrLeaf(aftrPath+"/external-address", c.ExternalAddress, false); err != nil {
		return s, err
	}
	if s.ExternalNextHop, err = addrLeaf(aftrPath+"/external-next-hop", c.ExternalNextHop, false); err != nil {
		return s, err
	}
	if s.InternalNextHop, err = addrLeaf(aftrPath+"/internal-next-hop", c.InternalNextHop, true); err != nil {
		return s, err
	}
	b := c.GetBfd()
	s.BFD, s.BFDProfile = b.GetEnabled(), b.GetProfile()
	s.BFDMax, s.BFDIdle = int(b.GetMaxSessions()), time.Duration(b.GetIdleTimeout())*time.Second
	s.BFDActive = !b.GetAutomaticPassive()
	var sessions map[string]*gen.WirebeatBfd_Bfd_Softwire_Session
	if sw := dev.GetBfd().GetSoftwire(); sw != nil {
		sessions = sw.Session
	}
	for k, sess := range sessions {
		if sess.Role == gen.WirebeatBfd_Bfd_Softwire_Session_Role_aftr {
			if a, err := netip.ParseAddr(k); err == nil {
				s.BFDPeers = append(s.BFDPeers, a)
			}
		}
	}
	return s, nil
}

// b4Setup is what /softwire/b4 asks for.
type b4Setup struct {
	Engine       dslite.B4Config
	WANDev       string
	LANDev       string
	LANAddress   netip.Addr
	WANNextHop   netip.Addr
	Discover     bool
	BFD          bool
	BFDProfile   string
	AddressFixed bool // b4-address configured, else from the WAN device
}

const b4Path = "/softwire/b4"

func b4SetupOf(dev *gen.Device) (b4Setup, error) {
	c := dev.GetSoftwire().GetB4()
	var s b4Setup
	var err error
	e := &s.Engine
	if e.Address, err = addrLeaf(b4Path+"/b4-address", c.B4Address, true); err != nil {
		return s, err
	}
	s.AddressFixed = e.Address.IsValid()
	inner := c.GetInnerAddress()
	if e.InnerAddress, err = addrLeaf(b4Path+"/inner-address", &inner, false); err != nil {
		return s, err
	}
	e.TunnelMTU = int(c.GetTunnelMtu())
	for k, a := range c.Aftr {
		addr, err := addrLeaf(fmt.Sprintf("%s/aftr[address=%s]/address", b4Path, k), &k, true)
		if err != nil {
			return s, err
		}
		e.AFTRs = append(e.AFTRs, dslite.AFTREntry{Addr: addr, Preference: a.GetPreference()})
	}
	f := c.GetFailover()
	if f.GetPolicy() == gen.WirebeatSoftwire_FailoverPolicy_revertive {
		e.Policy = dslite.Revertive
	}
	e.HoldDown = time.Duration(f.GetHoldDown()) * time.Second
	s.WANDev = c.GetWanDevice()
	if s.WANDev == "" {
		return s, fmt.Errorf("%s/wan-device: required when the B4 is enabled", b4Path)
	}
	s.LANDev = c.GetLanDevice()
	if s.LANDev == "" {
		return s, fmt.Errorf("%s/lan-device: required by this build (the element's own IPv4 traffic does not use the tunnel)", b4Path)
	}
	if s.LANAddress, err = addrLeaf(b4Path+"/lan-address", c.LanAddress, false); err != nil {
		return s, err
	}
	if s.WANNextHop, err = addrLeaf(b4Path+"/wan-next-hop", c.WanNextHop, true); err != nil {
		return s, err
	}
	s.Discover = c.GetDiscoverAftr()
	if len(e.AFTRs) == 0 && !s.Discover {
		return s, fmt.Errorf("%s/aftr: at least one AFTR, or discover-aftr true, is required when the B4 is enabled", b4Path)
	}
	s.BFD, s.BFDProfile = c.GetBfd().GetEnabled(), c.GetBfd().GetProfile()
	return s, nil
}
