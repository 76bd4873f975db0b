package softwire

import (
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/lwb4"
)

// LwB4Options configure the lwB4 subsystem; zero fields get the live
// system's behaviour.
type LwB4Options struct {
	Log *slog.Logger
	// Open opens a device's packet interface with a pktio driver
	// ("af_packet" or "af_xdp"); pktio.Open when nil.
	Open func(device, driver string) (DSLitePort, error)
	// DeviceMAC returns a device's Ethernet address.
	DeviceMAC func(device string) ([6]byte, error)
	// Provision4o6 runs one DHCPv4-over-DHCPv6 exchange on a device
	// (softwire/dhcp4o6's client on the device's link-local address when
	// nil).
	Provision4o6 Provision4o6
}

// LwB4Subsystem is the adapter of the lwB4 (/softwire/lwb4): it validates
// the configuration, runs the lwB4 engine on two pktio ports (the LAN
// with ARP towards the home hosts, the WAN with neighbour discovery
// towards the next hop), provisions it (statically, or by
// DHCPv4-over-DHCPv6), provisions again when the lwAFTR answers with an
// ICMPv6 code 5, renders its state and publishes lwb4-reprovision.
//
// Any change of /softwire/lwb4 restarts the engine (new NAPT state).
type LwB4Subsystem struct {
	o    LwB4Options
	log  *slog.Logger
	sink atomic.Pointer[sinkBox]

	mu   sync.Mutex
	run  *lwb4Run
	plan *lwb4Plan
}

type lwb4Plan struct {
	cs     *schema.ChangeSet
	change bool
	run    *lwb4Run
}

// NewLwB4Subsystem makes the adapter.
func NewLwB4Subsystem(o LwB4Options) *LwB4Subsystem {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Open == nil {
		log := o.Log
		o.Open = func(dev, driver string) (DSLitePort, error) {
			return pktio.Open(dev, pktio.Config{Driver: driver, Log: log.With("subsystem", "pktio")})
		}
	}
	if o.DeviceMAC == nil {
		o.DeviceMAC = interfaceMAC
	}
	if o.Provision4o6 == nil {
		o.Provision4o6 = provision4o6
	}
	return &LwB4Subsystem{o: o, log: o.Log}
}

// Name implements server.Subsystem.
func (s *LwB4Subsystem) Name() string { return "softwire-lwb4" }

// Attach implements server.Subsystem.
func (s *LwB4Subsystem) Attach(sink events.Sink) { s.sink.Store(&sinkBox{sink}) }

func (s *LwB4Subsystem) publish(e events.Event) {
	if b := s.sink.Load(); b != nil && b.Sink != nil {
		b.Publish(e)
	}
}

// Owns implements server.Subsystem: /softwire/lwb4.
func (s *LwB4Subsystem) Owns() []*gpb.Path {
	return []*gpb.Path{{Elem: []*gpb.PathElem{{Name: "softwire"}, {Name: "lwb4"}}}}
}

const lwb4Path = "/softwire/lwb4"

// lwb4Setup is what /softwire/lwb4 asks for.
type lwb4Setup struct {
	Engine         lwb4.Config
	LANDev, WANDev string
	LANDrv, WANDrv string
	LANAddress     netip.Addr
	WANNextHop     netip.Addr
	B4             netip.Addr
	BR             netip.Addr
	// DHCP: provision by DHCPv4-over-DHCPv6; otherwise Static. Server
	// is dhcpv4-over-dhcpv6/server-address (invalid: ff02::1:2).
	DHCP   bool
	Server netip.Addr
	Static lwb4.Binding
}

func driverName(d gen.E_WirebeatSoftwire_Softwire_Lwaftr_ExternalInterface_PacketIo_Driver) string {
	if d == gen.WirebeatSoftwire_Softwire_Lwaftr_ExternalInterface_PacketIo_Driver_af_xdp {
		return "af_xdp"
	}
	return "af_packet"
}

func lwb4SetupOf(dev *gen.Device) (lwb4Setup, error) {
	c := dev.GetSoftwire().GetLwb4()
	var s lwb4Setup
	var err error
	if s.LANDev = c.GetLanInterface().GetDevice(); s.LANDev == "" {
		return s, fmt.Errorf("%s/lan-interface/device: required when the lwB4 is enabled", lwb4Path)
	}
	if s.WANDev = c.GetWanInterface().GetDevice(); s.WANDev == "" {
		return s, fmt.Errorf("%s/wan-interface/device: required when the lwB4 is enabled", lwb4Path)
	}
	if s.LANDev == s.WANDev {
		return s, fmt.Errorf("%s/lan-interface/device: %s is also the WAN device", lwb4Path, s.LANDev)
	}
	s.LANDrv = driverName(c.GetLanInterface().GetPacketIo().GetDriver())
	s.WANDrv = driverName(c.GetWanInterface().GetPacketIo().GetDriver())
	if s.LANAddress, err = addrLeaf(lwb4Path+"/lan-interface/ipv4-address", c.GetLanInterface().Ipv4Address, false); err != nil {
		return s, err
	}
	if !s.LANAddress.IsValid() {
		return s, fmt.Errorf("%s/lan-interface/ipv4-address: required when the lwB4 is enabled", lwb4Path)
	}
	if s.WANNextHop, err = addrLeaf(lwb4Path+"/wan-interface/next-hop", c.GetWanInterface().NextHop, true); err != nil {
		return s, err
	}
	if s.B4, err = addrLeaf(lwb4Path+"/b4-ipv6", c.B4Ipv6, true); err != nil {
		return s, err
	}
	if !s.B4.IsValid() {
		return s, fmt.Errorf("%s/b4-ipv6: required when the lwB4 is enabled", lwb4Path)
	}
	if s.BR, err = addrLeaf(lwb4Path+"/br-address", c.BrAddress, true); err != nil {
		return s, err
	}
	s.Engine = lwb4.Config{B4: s.B4.As16(), MTU: int(c.GetTunnelMtu())}
	p := c.GetProvisioning()
	if d := p.GetDhcpv4OverDhcpv6(); d != nil {
		s.DHCP = true
		s.Server, err = addrLeaf(lwb4Path+"/provisioning/dhcpv4-over-dhcpv6/server-address", d.ServerAddress, true)
		if err == nil && s.Server.IsValid() && (s.Server.IsLinkLocalUnicast() || s.Server.IsUnspecified()) {
			err = fmt.Errorf("%s/provisioning/dhcpv4-over-dhcpv6/server-address: %s is not a global address", lwb4Path, s.Server)
		}
		return s, err
	}
	st := p.GetStatic()
	var ipLeaf *string
	if st != nil {
		ipLeaf = st.Ipv4
	}
	ip, err := addrLeaf(lwb4Path+"/provisioning/static/ipv4", ipLeaf, false)
	if err != nil {
		return s, err
	}
	if !ip.IsValid() {
		return s, fmt.Errorf("%s/provisioning/static/ipv4: required with static provisioning", lwb4Path)
	}
	if !s.BR.IsValid() {
		return s, fmt.Errorf("%s/br-address: required with static provisioning", lwb4Path)
	}
	a4 := ip.As4()
	s.Static = lwb4.Binding{IPv4: uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3]),
		PSID: st.GetPsid(), PortSet: bindingtable.PortSet{Offset: st.GetPsidOffset(), Length: st.GetPsidLength()}, BR: s.BR.As16()}
	if err := s.Static.PortSet.Valid(); err != nil {
		return s, fmt.Errorf("%s/provisioning/static: %w", lwb4Path, err)
	}
	if l := s.Static.PortSet.Length; l < 16 && s.Static.PSID>>l != 0 {
		return s, fmt.Errorf("%s/provisioning/static/psid: %d does not fit in psid-length %d", lwb4Path, s.Static.PSID, l)
	}
	return s, nil
}

// Prepare implements server.Subsystem: it validates the configuration
// and, when /softwire/lwb4 changed, builds the new engine and opens its
// ports without running them, so that Apply cannot fail.
func (s *LwB4Subsystem) Prepare(cs *schema.ChangeSet) error {
	old, nw := cs.Old, cs.New
	if old == nil {
		old = &gen.Device{}
	}
	on := nw.GetSoftwire().GetLwb4().GetEnabled()
	var st lwb4Setup
	if on {
		var err error
		if st, err = lwb4SetupOf(nw); err != nil {
			return asPathError(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &lwb4Plan{cs: cs}
	p.change = !reflect.DeepEqual(old.GetSoftwire().GetLwb4(), nw.GetSoftwire().GetLwb4()) || (s.run == nil) == on
	if p.change && on {
		r, err := s.build(st)
		if err != nil {
			return asPathError(err)
		}
		p.run = r
	}
	s.plan = p
	return nil
}

// Abort implements server.Subsystem: the engine Prepare built goes.
func (s *LwB4Subsystem) Abort(cs *schema.ChangeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.plan; p != nil && p.cs == cs {
		if p.run != nil {
			p.run.closePorts()
		}
		s.plan = nil
	}
}

// Apply implements server.Subsystem: a changed engine is stopped and its
// successor started.
func (s *LwB4Subsystem) Apply(cs *schema.ChangeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plan
	s.plan = nil
	if p == nil || p.cs != cs {
		s.log.Error("lwb4: Apply without its Prepare")
		return
	}
	if !p.change {
		return
	}
	if s.run != nil {
		s.run.stop()
	}
	s.run = p.run
	if s.run != nil {
		s.run.begin()
	}
}

// Close stops the engine.
func (s *LwB4Subsystem) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		s.run.stop()
		s.run = nil
	}
	return nil
}

// State implements server.Subsystem.
func (s *LwB4Subsystem) State(root *gen.Device, paths []*gpb.Path) error {
	s.mu.Lock()
	r := s.run
	s.mu.Unlock()
	if r != nil && covers(paths, "softwire", "lwb4") {
		r.state(root.GetOrCreateSoftwire().GetOrCreateLwb4(), paths)
	}
	return nil
}
