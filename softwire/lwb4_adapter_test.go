package softwire

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/softwire/lwb4"
	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

var (
	lwB4Addr = netip.MustParseAddr("2001:db8:b4::b4")
	lwBR     = netip.MustParseAddr("2001:db8:aa::1")
	lwPub    = netip.MustParseAddr("198.51.100.7")
	lwPorts  = bindingtable.PortSet{Offset: 6, Length: 4}
)

const lwPSID = 5

func lwb4Config() *gen.Device {
	d := &gen.Device{}
	c := d.GetOrCreateSoftwire().GetOrCreateLwb4()
	c.Enabled = ygot.Bool(true)
	c.GetOrCreateLanInterface().Device, c.GetOrCreateLanInterface().Ipv4Address = ygot.String("b4lan"), ygot.String("192.168.1.1")
	c.GetOrCreateWanInterface().Device = ygot.String("b4wan")
	c.B4Ipv6, c.BrAddress = ygot.String(lwB4Addr.String()), ygot.String(lwBR.String())
	s := c.GetOrCreateProvisioning().GetOrCreateStatic()
	s.Ipv4, s.Psid, s.PsidOffset, s.PsidLength = ygot.String(lwPub.String()), ygot.Uint16(lwPSID), ygot.Uint8(lwPorts.Offset), ygot.Uint8(lwPorts.Length)
	return d
}

func checkLwB4(s *LwB4Subsystem, cfg *gen.Device) error {
	cs := schema.NewChangeSet(&gen.Device{}, cfg, s.Owns())
	if err := s.Prepare(cs); err != nil {
		return err
	}
	s.Abort(cs)
	return nil
}

func TestLwB4Validate(t *testing.T) {
	s := NewLwB4Subsystem(LwB4Options{
		Open:      func(string, string) (DSLitePort, error) { a, _ := cable(); return pktio.Adapt(a, 0), nil },
		DeviceMAC: func(string) ([6]byte, error) { return [6]byte{2, 0, 0, 0, 0, 1}, nil },
	})
	defer s.Close()
	if err := checkLwB4(s, lwb4Config()); err != nil {
		t.Fatalf("valid configuration refused: %v", err)
	}
	for _, c := range []struct {
		mod  func(*gen.WirebeatSoftwire_Softwire_Lwb4)
		want string
	}{
		{func(c *gen.WirebeatSoftwire_Softwire_Lwb4) { c.B4Ipv6 = nil }, "/softwire/lwb4/b4-ipv6"},
		{func(c *gen.WirebeatSoftwire_Softwire_Lwb4) { c.B4Ipv6 = ygot.String("192.0.2.1") }, "/softwire/lwb4/b4-ipv6"},
		{func(c *gen.WirebeatSoftwire_Softwire_Lwb4) { c.BrAddress = nil }, "/softwire/lwb4/br-address"},
		{func(c *gen.WirebeatSoftwire_Softwire_Lwb4) { c.LanInterface.Device = nil }, "/softwire/lwb4/lan-interface/device"},
		{func(c *gen.WirebeatSoftwire_Softwire_Lwb4) { c.LanInterface.Ipv4Address = nil }, "/softwire/lwb4/lan-interface/ipv4-address"},
		{func(c *gen.WirebeatSoftwire_Softwire_Lwb4) { c.WanInterface.Device = ygot.String("b4lan") }, "/softwire/lwb4/lan-interface/device"},
		{func(c *gen.WirebeatSoftwire_Softwire_Lwb4) { c.Provisioning.Static.Ipv4 = nil }, "/softwire/lwb4/provisioning/static/ipv4"},
		{func(c *gen.WirebeatSoftwire_Softwire_Lwb4) { c.Provisioning.Static.Psid = ygot.Uint16(16) }, "/softwire/lwb4/provisioning/static/psid"},
		{func(c *gen.WirebeatSoftwire_Softwire_Lwb4) { c.Provisioning.Static.PsidOffset = ygot.Uint8(13) }, "exceeds 16"},
	} {
		d := lwb4Config()
		c.mod(d.Softwire.Lwb4)
		err := checkLwB4(s, d)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Prepare = %v, want an error naming %s", err, c.want)
		}
	}
	d := lwb4Config()
	d.Softwire.Lwb4.B4Ipv6 = nil
	if e := schema.AsError(checkLwB4(s, d)); e == nil || schema.PathString(e.Path) != "/softwire/lwb4/b4-ipv6" {
		t.Fatalf("error without its path: %v", e)
	}
	// DHCPv4-over-DHCPv6 needs neither a static binding nor br-address.
	d = lwb4Config()
	d.Softwire.Lwb4.Provisioning.Static = nil
	d.Softwire.Lwb4.BrAddress = nil
	d.Softwire.Lwb4.Provisioning.GetOrCreateDhcpv4OverDhcpv6()
	if err := checkLwB4(s, d); err != nil {
		t.Fatalf("DHCPv4-over-DHCPv6 configuration refused: %v", err)
	}
	// Disabled: nothing is checked, nothing opened.
	d = &gen.Device{}
	d.GetOrCreateSoftwire().GetOrCreateLwb4().Enabled = ygot.Bool(false)
	if err := checkLwB4(s, d); err != nil {
		t.Fatal(err)
	}
}

// lwAFTRSide plays the lwAFTR on the lwB4's WAN cable with the real
// lwAFTR engine: it answers neighbour solicitations for the BR address,
// decapsulates into the Internet side and encapsulates what comes back.
type lwAFTRSide struct {
	t      *testing.T
	wan    *wirePort // the test's end of the lwB4's WAN cable
	b4MAC  [6]byte
	aftr   *lwaftr.Engine
	cap    *capture
	aftrMA [6]byte
}

type capture struct{ f [2][][]byte }

func (c *capture) Send(p lwaftr.Port, f []byte) { c.f[p] = append(c.f[p], slices.Clone(f)) }

func newLwAFTRSide(t *testing.T, wan *wirePort, b4MAC [6]byte) *lwAFTRSide {
	x := &lwAFTRSide{t: t, wan: wan, b4MAC: b4MAC, cap: &capture{}, aftrMA: [6]byte{2, 0, 0, 0, 0, 0xaa}}
	c := lwaftr.Config{External: lwaftr.DefaultSide(true), Internal: lwaftr.DefaultSide(false)}
	c.External.IP = []byte{198, 51, 100, 1}
	c.External.MAC = [6]byte{2, 0, 0, 0, 0, 0xab}
	c.External.NextHopMAC, c.External.NextHopMACSet = [6]byte{2, 0, 0, 0, 0, 0xee}, true
	br := lwBR.As16()
	c.Internal.IP = br[:]
	c.Internal.MAC = x.aftrMA
	c.Internal.NextHopMAC, c.Internal.NextHopMACSet = b4MAC, true
	a4 := lwPub.As4()
	bt, err := lwaftr.NewTable([]lwaftr.Binding{{IPv4: binary.BigEndian.Uint32(a4[:]), PSID: lwPSID, PortSet: lwPorts, B4: lwB4Addr.As16(), BR: br}})
	if err != nil {
		t.Fatal(err)
	}
	if x.aftr, err = lwaftr.New(c, bt, x.cap); err != nil {
		t.Fatal(err)
	}
	return x
}

// pump handles the lwB4's WAN frames until one IPv4 packet leaves the
// lwAFTR to the Internet (returned) or an ICMPv6 error goes back to the
// lwB4 (nil), or the time runs out.
func (x *lwAFTRSide) pump(d time.Duration) []byte {
	end := time.After(d)
	for {
		select {
		case <-end:
			x.t.Fatal("nothing came through the lwAFTR")
		case f := <-x.wan.in:
			p := f[14:]
			if binary.BigEndian.Uint16(f[12:]) != netpkt.EtherTypeIPv6 || len(p) < 41 {
				continue
			}
			if p[6] == netpkt.ProtoICMPv6 && p[40] == netpkt.ICMPv6NeighborSolicitation {
				target, _, ok := netpkt.NDTarget(p, 1)
				if ok && netip.AddrFrom16([16]byte(target)) == lwBR {
					r := make([]byte, 14+netpkt.NDLen)
					copy(r, f[6:12])
					copy(r[6:], x.aftrMA[:])
					binary.BigEndian.PutUint16(r[12:], netpkt.EtherTypeIPv6)
					netpkt.WriteNA(r[14:], target, p[8:24], target, x.aftrMA[:], true)
					x.wan.Send(r)
				}
				continue
			}
			x.cap.f = [2][][]byte{}
			x.aftr.Receive(lwaftr.Internal, f)
			x.aftr.Flush()
			x.back()
			if len(x.cap.f[lwaftr.External]) > 0 {
				return x.cap.f[lwaftr.External][0][14:]
			}
			if len(x.cap.f[lwaftr.Internal]) > 0 {
				return nil
			}
		}
	}
}

// back sends the lwAFTR's encapsulated output to the lwB4.
func (x *lwAFTRSide) back() {
	for _, f := range x.cap.f[lwaftr.Internal] {
		copy(f, x.b4MAC[:])
		x.wan.Send(f)
	}
}

// fromInternet gives the lwAFTR a packet from the Internet.
func (x *lwAFTRSide) fromInternet(f []byte) {
	x.cap.f = [2][][]byte{}
	x.aftr.Receive(lwaftr.External, f)
	x.aftr.Flush()
	x.back()
}

// lwb4Bench starts an lwB4 subsystem on in-memory cables with cfg.
func lwb4Bench(t *testing.T, o LwB4Options, cfg *gen.Device) (s *LwB4Subsystem, host, wan *wirePort, macs map[string][6]byte, rec *recorder) {
	b4wan, wanEnd := cable()
	b4lan, hostEnd := cable()
	ports := map[string]*wirePort{"b4wan": b4wan, "b4lan": b4lan}
	macs = map[string][6]byte{"b4wan": {2, 0, 0, 0, 0, 1}, "b4lan": {2, 0, 0, 0, 0, 2}}
	o.Open = func(dev, driver string) (DSLitePort, error) {
		if driver != "af_packet" {
			t.Errorf("device %s opened with driver %q", dev, driver)
		}
		return pktio.Adapt(ports[dev], 0), nil
	}
	o.DeviceMAC = func(dev string) ([6]byte, error) { return macs[dev], nil }
	s = NewLwB4Subsystem(o)
	rec = &recorder{}
	s.Attach(rec)
	t.Cleanup(func() { s.Close() })
	cs := schema.NewChangeSet(&gen.Device{}, cfg, s.Owns())
	if err := s.Prepare(cs); err != nil {
		t.Fatal(err)
	}
	s.Apply(cs)
	return s, hostEnd, wanEnd, macs, rec
}

func lwb4State(t *testing.T, s *LwB4Subsystem) *gen.WirebeatSoftwire_Softwire_Lwb4 {
	root := &gen.Device{}
	if err := s.State(root, nil); err != nil {
		t.Fatal(err)
	}
	return root.GetSoftwire().GetLwb4()
}

// TestLwB4AdapterThroughLwAFTR: a home host's UDP packet goes through the
// lwB4 subsystem (ARP on the LAN, NDP on the WAN) and the real lwAFTR
// engine to the Internet with the provisioned address and a port of the
// PSID; the answer comes back to the host. Then the lwAFTR loses the
// binding: its ICMPv6 code 5 makes the lwB4 provision again, counted in
// state and published as lwb4-reprovision.
func TestLwB4AdapterThroughLwAFTR(t *testing.T) {
	s, hostEnd, wanEnd, macs, rec := lwb4Bench(t, LwB4Options{}, lwb4Config())
	x := newLwAFTRSide(t, wanEnd, macs["b4wan"])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hostGot := make(chan []byte, 16)
	hostMAC := []byte{2, 0, 0, 0, 0, 0x10}
	go answerARP(ctx, hostEnd, netip.MustParseAddr("192.168.1.100"), hostMAC, hostGot)

	for end := time.Now().Add(10 * time.Second); !lwb4State(t, s).GetState().GetProvisioned(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("static binding never installed")
		}
	}
	host := netip.MustParseAddrPort("192.168.1.100:5000")
	server := netip.MustParseAddrPort("203.0.113.9:53")
	lanMAC := macs["b4lan"]
	hostEnd.Send(udpFrame(lanMAC[:], hostMAC, host, server))
	out := x.pump(10 * time.Second)
	if out == nil {
		t.Fatal("the lwAFTR refused the lwB4's packet")
	}
	ext := netip.AddrPortFrom(netip.AddrFrom4([4]byte(out[12:16])), binary.BigEndian.Uint16(out[20:]))
	if ext.Addr() != lwPub || lwPorts.PSID(ext.Port()) != lwPSID || ext.Port()>>(16-lwPorts.Offset) == 0 {
		t.Fatalf("translated to %v, want %v with a port of psid %d", ext, lwPub, lwPSID)
	}
	extMAC := [6]byte{2, 0, 0, 0, 0, 0xab}
	x.fromInternet(udpFrame(extMAC[:], []byte{2, 0, 0, 0, 0, 0xee}, server, ext))
	select {
	case back := <-hostGot:
		if netip.AddrFrom4([4]byte(back[16:20])) != host.Addr() || binary.BigEndian.Uint16(back[22:]) != host.Port() {
			t.Fatalf("answer to %x", back[12:24])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the answer did not reach the host")
	}
	st := lwb4State(t, s)
	if g := st.GetState(); g.GetIpv4() != lwPub.String() || g.GetPsid() != lwPSID || g.GetPsidLength() != lwPorts.Length ||
		g.GetBrAddress() != lwBR.String() || g.GetNaptMappings() != 1 || g.GetPorts() == 0 || g.GetLastProvisioningTime() == "" {
		t.Fatalf("state %+v", g)
	}
	if k := st.GetCounters(); k.GetEncapPackets() != 1 || k.GetDecapPackets() != 1 {
		t.Fatalf("counters %+v", k)
	}

	// The lwAFTR (a backup, say) has no binding for us.
	a4 := lwPub.As4()
	x.aftr.RemoveBinding(binary.BigEndian.Uint32(a4[:]), lwPSID)
	hostEnd.Send(udpFrame(lanMAC[:], hostMAC, netip.MustParseAddrPort("192.168.1.100:5001"), server))
	if out := x.pump(10 * time.Second); out != nil {
		t.Fatal("the lwAFTR forwarded without a binding")
	}
	for end := time.Now().Add(10 * time.Second); lwb4State(t, s).GetState().GetReprovisionCount() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no reprovisioning after the ICMPv6 error: %+v", lwb4State(t, s).GetCounters())
		}
	}
	if n := strings.Join(rec.names(), ","); n != "lwb4-reprovision" {
		t.Fatalf("events %q", n)
	}
	rec.mu.Lock()
	leaves := rec.ev[0].Leaves
	rec.mu.Unlock()
	if leaves[0].Value != lwB4Addr.String() || leaves[1].Name != "br-address" || leaves[1].Value != lwBR.String() {
		t.Fatalf("lwb4-reprovision leaves %+v", leaves)
	}
	if k := lwb4State(t, s).GetCounters(); k.GetReprovisionTriggers() != 1 {
		t.Fatalf("reprovision-triggers %d", k.GetReprovisionTriggers())
	}
}

// TestLwB4DHCPProvisioning: with dhcpv4-over-dhcpv6 the binding comes
// from the provisioning exchange (retried after a failure, whose reason
// state shows meanwhile), and is asked for again after an ICMPv6 code 5.
func TestLwB4DHCPProvisioning(t *testing.T) {
	var calls atomic.Int32
	fail := make(chan struct{})
	a4 := lwPub.As4()
	o := LwB4Options{Provision4o6: func(ctx context.Context, dev string, b4, _ netip.Addr) (lwb4.Binding, time.Duration, error) {
		if dev != "b4wan" || b4 != lwB4Addr {
			t.Errorf("provisioning on %s for %s", dev, b4)
		}
		if calls.Add(1) == 1 {
			<-fail
			return lwb4.Binding{}, 0, errors.New("no DHCPv4-over-DHCPv6 server answered")
		}
		return lwb4.Binding{IPv4: binary.BigEndian.Uint32(a4[:]), PSID: lwPSID, PortSet: lwPorts, BR: lwBR.As16()}, time.Hour, nil
	}}
	cfg := lwb4Config()
	cfg.Softwire.Lwb4.BrAddress = nil
	cfg.Softwire.Lwb4.Provisioning.Static = nil
	cfg.Softwire.Lwb4.Provisioning.GetOrCreateDhcpv4OverDhcpv6()
	s, hostEnd, wanEnd, macs, rec := lwb4Bench(t, o, cfg)
	if lwb4State(t, s).GetState().GetProvisioned() {
		t.Fatal("provisioned before the server answered")
	}
	close(fail)
	for end := time.Now().Add(10 * time.Second); lwb4State(t, s).GetState().GetLastProvisioningError() == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the failure is not in state")
		}
	}
	for end := time.Now().Add(10 * time.Second); !lwb4State(t, s).GetState().GetProvisioned(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("never provisioned after the retry")
		}
	}
	if g := lwb4State(t, s).GetState(); g.GetIpv4() != lwPub.String() || g.GetBrAddress() != lwBR.String() || g.GetLastProvisioningError() != "" {
		t.Fatalf("state %+v", g)
	}
	// An ICMPv6 code 5 from the lwAFTR about our packet: provision again.
	x := newLwAFTRSide(t, wanEnd, macs["b4wan"])
	x.aftr.RemoveBinding(binary.BigEndian.Uint32(a4[:]), lwPSID)
	if calls.Load() != 2 {
		t.Fatalf("%d provisioning calls before the trigger", calls.Load())
	}
	lanMAC := macs["b4lan"]
	hostEnd.Send(udpFrame(lanMAC[:], []byte{2, 0, 0, 0, 0, 0x10}, netip.MustParseAddrPort("192.168.1.100:5000"), netip.MustParseAddrPort("203.0.113.9:53")))
	if out := x.pump(10 * time.Second); out != nil {
		t.Fatal("the lwAFTR forwarded without a binding")
	}
	for end := time.Now().Add(10 * time.Second); calls.Load() != 3 || lwb4State(t, s).GetState().GetReprovisionCount() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d provisioning calls after the ICMPv6 error", calls.Load())
		}
	}
	if n := strings.Join(rec.names(), ","); n != "lwb4-reprovision" {
		t.Fatalf("events %q", n)
	}
}

// TestLwB4DHCPRenewal: a DHCPv4-over-DHCPv6 lease is asked for again at
// half its lifetime (T1), without counting as a reprovisioning.
func TestLwB4DHCPRenewal(t *testing.T) {
	var calls atomic.Int32
	a4 := lwPub.As4()
	o := LwB4Options{Provision4o6: func(context.Context, string, netip.Addr, netip.Addr) (lwb4.Binding, time.Duration, error) {
		calls.Add(1)
		return lwb4.Binding{IPv4: binary.BigEndian.Uint32(a4[:]), PSID: lwPSID, PortSet: lwPorts, BR: lwBR.As16()}, 2 * time.Second, nil
	}}
	cfg := lwb4Config()
	cfg.Softwire.Lwb4.Provisioning.Static = nil
	cfg.Softwire.Lwb4.Provisioning.GetOrCreateDhcpv4OverDhcpv6()
	s, _, _, _, rec := lwb4Bench(t, o, cfg)
	for end := time.Now().Add(20 * time.Second); calls.Load() < 3; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d provisioning calls: the lease was not renewed", calls.Load())
		}
	}
	if g := lwb4State(t, s).GetState(); g.GetReprovisionCount() != 0 || !g.GetProvisioned() {
		t.Fatalf("state %+v", g)
	}
	if n := rec.names(); len(n) != 0 {
		t.Fatalf("events %v", n)
	}
}
