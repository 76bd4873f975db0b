package softwire

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/softwire/dhcp4o6"
	"github.com/wirebeat/wirebeat/softwire/dslite"
	"github.com/wirebeat/wirebeat/softwire/lwb4"
)

// Provision4o6 runs one DHCPv4-over-DHCPv6 exchange on a device for the
// softwire address b4, to server (invalid: All_DHCP_Relay_Agents_and_Servers
// on the link), and returns the binding it gave and the lease time (0:
// unknown, never renewed).
type Provision4o6 func(ctx context.Context, device string, b4, server netip.Addr) (lwb4.Binding, time.Duration, error)

// provision4o6 is softwire/dhcp4o6's client on port 546 of the device's
// link-local address, or with a unicast server of its first global
// address (a router between would not forward link-local sources).
func provision4o6(ctx context.Context, device string, b4, server netip.Addr) (lwb4.Binding, time.Duration, error) {
	ifi, err := net.InterfaceByName(device)
	if err != nil {
		return lwb4.Binding{}, 0, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return lwb4.Binding{}, 0, err
	}
	var ll net.IP
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.To4() != nil {
			continue
		}
		if server.IsValid() && n.IP.IsGlobalUnicast() && !n.IP.Equal(b4.AsSlice()) {
			ll = n.IP
			break
		}
		if !server.IsValid() && n.IP.IsLinkLocalUnicast() {
			ll = n.IP
			break
		}
	}
	if ll == nil {
		if server.IsValid() {
			return lwb4.Binding{}, 0, fmt.Errorf("%s has no global IPv6 address of the host's to reach %s from", device, server)
		}
		return lwb4.Binding{}, 0, fmt.Errorf("%s has no IPv6 link-local address", device)
	}
	zone := device
	if !ll.IsLinkLocalUnicast() {
		zone = ""
	}
	conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: ll, Port: 546, Zone: zone})
	if err != nil {
		return lwb4.Binding{}, 0, err
	}
	defer conn.Close()
	c := &dhcp4o6.Client{Conn: conn, Iface: device, MAC: ifi.HardwareAddr, B4: b4, Server: server}
	l, err := c.Provision(ctx)
	return l.Binding, l.LeaseTime, err
}

// lwb4Run is a running lwB4: its engine on two links, a runner, and the
// provisioning goroutine.
type lwb4Run struct {
	engineRun
	s     *LwB4Subsystem
	log   *slog.Logger
	e     *lwb4.Engine
	setup lwb4Setup
	lan   *dslite.Link
	wan   *dslite.Link
	// kick asks the provisioning loop for a new binding (ICMPv6 code 5).
	kick chan struct{}

	mu          sync.Mutex
	reprovision uint32
	lastProv    time.Time
	lastErr     string
}

// lwb4Links is the engine's Sender over the two links.
type lwb4Links struct{ lan, wan *dslite.Link }

func (l lwb4Links) SendLAN(p []byte) { l.lan.SendIPv4(p) }
func (l lwb4Links) SendWAN(p []byte) { l.wan.SendIPv6(p) }

func (s *LwB4Subsystem) build(st lwb4Setup) (*lwb4Run, error) {
	r := &lwb4Run{s: s, setup: st, kick: make(chan struct{}, 1)}
	open := func(dev, drv string, cfg dslite.LinkConfig) (*dslite.Link, error) {
		mac, err := s.o.DeviceMAC(dev)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", dev, err)
		}
		cfg.MAC = mac
		p, err := s.o.Open(dev, drv)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", dev, err)
		}
		r.ports = append(r.ports, p)
		return dslite.NewLink(cfg, p), nil
	}
	var err error
	if r.lan, err = open(st.LANDev, st.LANDrv, dslite.LinkConfig{IPv4: st.LANAddress}); err != nil {
		return nil, fmt.Errorf("%s/lan-interface: %w", lwb4Path, err)
	}
	if r.wan, err = open(st.WANDev, st.WANDrv, dslite.LinkConfig{IPv6: []netip.Addr{st.B4}, Gateway6: st.WANNextHop}); err != nil {
		r.closePorts()
		return nil, fmt.Errorf("%s/wan-interface: %w", lwb4Path, err)
	}
	if r.e, err = lwb4.New(st.Engine, lwb4Links{r.lan, r.wan}); err != nil {
		r.closePorts()
		return nil, fmt.Errorf("%s: %w", lwb4Path, err)
	}
	r.e.OnReprovision = r.onReprovision
	r.lan.OnIPv4 = r.e.FromLAN
	r.wan.OnIPv6 = r.e.FromWAN
	r.runner = dslite.NewRunner([]dslite.Port{r.ports[0], r.ports[1]}, []*dslite.Link{r.lan, r.wan}, func(time.Time) {})
	r.log = s.log.With("b4-ipv6", st.B4, "lan-device", st.LANDev, "wan-device", st.WANDev, "dhcpv4-over-dhcpv6", st.DHCP)
	return r, nil
}

// begin runs a built lwB4 and its provisioning.
func (r *lwb4Run) begin() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.runner.Run(ctx) }()
	go func() { defer r.wg.Done(); r.provisionLoop(ctx) }()
	r.log.Info("lwb4: started")
}

// onReprovision runs on the data-plane goroutine (under the runner's
// lock): it only asks the provisioning loop, never blocks.
func (r *lwb4Run) onReprovision() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// provisionLoop installs a binding, again after each ICMPv6 code 5, and
// (DHCPv4-over-DHCPv6) again at half the lease time, as a DHCPv4 client
// renews at T1 (RFC 2131 §4.4.5). Static provisioning installs the
// configured binding; DHCPv4-over-DHCPv6 asks until a server answers,
// backing off up to 30 s.
func (r *lwb4Run) provisionLoop(ctx context.Context) {
	renew := r.provisionOnce(ctx)
	for ctx.Err() == nil {
		var timer <-chan time.Time
		var t *time.Timer
		if renew > 0 {
			t = time.NewTimer(renew)
			timer = t.C
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return
		case <-timer:
			r.log.Info("lwb4: renewing the lease")
		case <-r.kick:
			if t != nil {
				t.Stop()
			}
			r.mu.Lock()
			r.reprovision++
			r.mu.Unlock()
			var br [16]byte
			r.runner.Do(func() { b, _ := r.e.Binding(); br = b.BR })
			r.log.Warn("lwb4: lwAFTR has no binding for us (ICMPv6 code 5): provisioning again", "br", netip.AddrFrom16(br))
			r.s.reprovisionEvent(r.setup.B4, netip.AddrFrom16(br), time.Now())
		}
		renew = r.provisionOnce(ctx)
	}
}

// provisionOnce installs a binding, retrying until it can; it returns
// when to renew (0: never).
func (r *lwb4Run) provisionOnce(ctx context.Context) time.Duration {
	wait := time.Second
	for ctx.Err() == nil {
		b := r.setup.Static
		var lease time.Duration
		var err error
		if r.setup.DHCP {
			qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			b, lease, err = r.s.o.Provision4o6(qctx, r.setup.WANDev, r.setup.B4, r.setup.Server)
			cancel()
			if err == nil && b.BR == ([16]byte{}) && r.setup.BR.IsValid() {
				b.BR = r.setup.BR.As16()
			}
		}
		if err == nil {
			// State sees the binding and its time together.
			r.runner.Do(func() {
				if err = r.e.SetBinding(b); err == nil {
					r.mu.Lock()
					r.lastProv, r.lastErr = time.Now(), ""
					r.mu.Unlock()
				}
			})
		}
		if err == nil {
			r.log.Info("lwb4: provisioned", "ipv4", netip.AddrFrom4([4]byte{byte(b.IPv4 >> 24), byte(b.IPv4 >> 16), byte(b.IPv4 >> 8), byte(b.IPv4)}),
				"psid", b.PSID, "psid-offset", b.PortSet.Offset, "psid-length", b.PortSet.Length, "br", netip.AddrFrom16(b.BR), "lease", lease)
			if lease > 0 {
				return max(lease/2, time.Second)
			}
			return 0
		}
		r.mu.Lock()
		r.lastErr = err.Error()
		r.mu.Unlock()
		r.log.Warn("lwb4: provisioning failed", "err", err, "retry-in", wait)
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
	return 0
}

func (s *LwB4Subsystem) reprovisionEvent(b4, br netip.Addr, t time.Time) {
	leaves := []events.Leaf{{Name: "b4-ipv6", Value: b4.String()}}
	if br.IsValid() && br != netip.IPv6Unspecified() {
		leaves = append(leaves, events.Leaf{Name: "br-address", Value: br.String()})
	}
	leaves = append(leaves, events.Leaf{Name: "time", Value: timeString(t)})
	s.publish(events.Event{Time: t, Kind: events.Notification, Module: "wirebeat-softwire", Name: "lwb4-reprovision", Leaves: leaves})
}

func (r *lwb4Run) state(t *gen.WirebeatSoftwire_Softwire_Lwb4, paths []*gpb.Path) {
	var c lwb4.Counters
	var b lwb4.Binding
	var has bool
	var ports, mappings, mtu int
	r.runner.Do(func() {
		c = r.e.C
		b, has = r.e.Binding()
		ports, mappings, mtu = r.e.Ports(), r.e.Mappings(), r.e.TunnelMTU()
	})
	if covers(paths, "softwire", "lwb4", "state") {
		st := t.GetOrCreateState()
		st.Provisioned = &has
		if has {
			st.Ipv4 = str(netip.AddrFrom4([4]byte{byte(b.IPv4 >> 24), byte(b.IPv4 >> 16), byte(b.IPv4 >> 8), byte(b.IPv4)}).String())
			psid, off, l := b.PSID, b.PortSet.Offset, b.PortSet.Length
			st.Psid, st.PsidOffset, st.PsidLength = &psid, &off, &l
			st.BrAddress = str(netip.AddrFrom16(b.BR).String())
		}
		st.Ports, st.NaptMappings, st.TunnelMtu = u32(ports), u32(mappings), u32(mtu)
		r.mu.Lock()
		n := r.reprovision
		st.ReprovisionCount = &n
		if !r.lastProv.IsZero() {
			st.LastProvisioningTime = str(timeString(r.lastProv))
		}
		if r.lastErr != "" {
			st.LastProvisioningError = str(r.lastErr)
		}
		r.mu.Unlock()
	}
	if covers(paths, "softwire", "lwb4", "counters") {
		k := t.GetOrCreateCounters()
		k.EncapPackets, k.EncapBytes = u64(c.EncapPackets), u64(c.EncapBytes)
		k.DecapPackets, k.DecapBytes = u64(c.DecapPackets), u64(c.DecapBytes)
		k.DropUnprovisioned, k.DropMalformed = u64(c.DropUnprovisioned), u64(c.DropMalformed)
		k.DropFragment, k.DropProtocol, k.DropTtl = u64(c.DropFragment), u64(c.DropProtocol), u64(c.DropTTL)
		k.DropPortsExhausted, k.DropTooBig = u64(c.DropPortsExhausted), u64(c.DropTooBig)
		k.DropNotForUs, k.DropNoMapping = u64(c.DropNotForUs), u64(c.DropNoMapping)
		k.FragNeededSent, k.ReprovisionTriggers, k.PacketTooBig = u64(c.FragNeededSent), u64(c.ReprovisionTriggers), u64(c.PacketTooBig)
	}
}
