package softwire

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire/aftrname"
	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// wirePort is one end of an in-memory Ethernet cable.
type wirePort struct {
	in   chan []byte
	peer *wirePort
}

func cable() (*wirePort, *wirePort) {
	a, b := &wirePort{in: make(chan []byte, 1024)}, &wirePort{in: make(chan []byte, 1024)}
	a.peer, b.peer = b, a
	return a, b
}

func (p *wirePort) ReadBatch(bufs [][]byte, lens []int) (int, error) {
	select {
	case f := <-p.in:
		lens[0] = copy(bufs[0], f)
	case <-time.After(10 * time.Millisecond):
		return 0, nil
	}
	return 1, nil
}

func (p *wirePort) Write(f []byte) error {
	select {
	case p.peer.in <- bytes.Clone(f):
	default:
	}
	return nil
}

// Send is for the test's own end of a cable.
func (p *wirePort) Send(f []byte) bool { return p.Write(f) == nil }
func (p *wirePort) Close() error       { return nil }

type recorder struct {
	mu sync.Mutex
	ev []events.Event
}

func (r *recorder) Publish(e events.Event) { r.mu.Lock(); r.ev = append(r.ev, e); r.mu.Unlock() }
func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n []string
	for _, e := range r.ev {
		n = append(n, e.Name)
	}
	return n
}

func dsliteConfig() *gen.Device {
	d := &gen.Device{}
	p := d.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("tunnel")
	p.DesiredMinTxInterval, p.RequiredMinRxInterval, p.DetectionMultiplier = ygot.Uint32(300_000), ygot.Uint32(300_000), ygot.Uint8(3)
	a := d.GetOrCreateSoftwire().GetOrCreateAftr()
	a.Enabled, a.InternalDevice, a.ExternalDevice = ygot.Bool(true), ygot.String("aftrin"), ygot.String("aftrext")
	a.TunnelEndpoint, a.ExternalAddress, a.ExternalNextHop = ygot.String("2001:db8:a::1"), ygot.String("192.0.2.2"), ygot.String("192.0.2.1")
	a.GetOrCreateNat44().GetOrCreatePool("198.51.100.0/30")
	a.GetOrCreateNat44().PortBlockSize = ygot.Uint16(64)
	a.GetOrCreateBfd().Enabled, a.GetOrCreateBfd().Profile = ygot.Bool(true), ygot.String("tunnel")
	b := d.GetOrCreateSoftwire().GetOrCreateB4()
	b.Enabled, b.WanDevice, b.LanDevice = ygot.Bool(true), ygot.String("b4wan"), ygot.String("b4lan")
	b.B4Address, b.LanAddress = ygot.String("2001:db8:100::a"), ygot.String("192.168.1.1")
	b.GetOrCreateAftr("2001:db8:a::1").Preference = ygot.Uint8(10)
	b.GetOrCreateBfd().Enabled, b.GetOrCreateBfd().Profile = ygot.Bool(true), ygot.String("tunnel")
	s := d.GetOrCreateBfd().GetOrCreateSoftwire().GetOrCreateSession("2001:db8:100::a")
	s.Role, s.AftrAddress = gen.WirebeatBfd_Bfd_Softwire_Session_Role_b4, ygot.String("2001:db8:a::1")
	return d
}

// checkDS prepares cfg as the first commit and aborts it.
func checkDS(s *DSLiteSubsystem, cfg *gen.Device) error {
	cs := schema.NewChangeSet(&gen.Device{}, cfg, s.Owns())
	if err := s.Prepare(cs); err != nil {
		return err
	}
	s.Abort(cs)
	return nil
}

func TestDSLiteValidate(t *testing.T) {
	s := NewDSLiteSubsystem(DSLiteOptions{
		Open:      func(string) (DSLitePort, error) { a, _ := cable(); return pktio.Adapt(a, 0), nil },
		DeviceMAC: func(string) ([6]byte, error) { return [6]byte{2, 0, 0, 0, 0, 1}, nil },
	})
	defer s.Close()
	if err := checkDS(s, dsliteConfig()); err != nil {
		t.Fatalf("valid configuration refused: %v", err)
	}
	for _, c := range []struct {
		mod  func(*gen.Device)
		want string
	}{
		{func(d *gen.Device) { d.Softwire.Aftr.TunnelEndpoint = nil }, "/softwire/aftr/tunnel-endpoint"},
		{func(d *gen.Device) { d.Softwire.Aftr.TunnelEndpoint = ygot.String("192.0.2.1") }, "/softwire/aftr/tunnel-endpoint"},
		{func(d *gen.Device) { d.Softwire.Aftr.Nat44.Pool = nil }, "/softwire/aftr/nat44/pool"},
		{func(d *gen.Device) { d.Softwire.Aftr.GetOrCreateNat44().GetOrCreatePool("198.51.100.2/31") }, "overlap"},
		{func(d *gen.Device) { d.Softwire.Aftr.Bfd.Profile = ygot.String("nope") }, "/softwire/aftr/bfd/profile"},
		{func(d *gen.Device) { d.Softwire.B4.Aftr = nil }, "/softwire/b4/aftr"},
		{func(d *gen.Device) { d.Softwire.B4.WanDevice = nil }, "/softwire/b4/wan-device"},
	} {
		d := dsliteConfig()
		c.mod(d)
		if err := checkDS(s, d); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate = %v, want an error naming %s", err, c.want)
		}
	}
	// Errors carry the path of the leaf, for NETCONF's error-path.
	d := dsliteConfig()
	d.Softwire.Aftr.TunnelEndpoint = nil
	if e := schema.AsError(checkDS(s, d)); e == nil || schema.PathString(e.Path) != "/softwire/aftr/tunnel-endpoint" {
		t.Fatalf("error without its path: %v", e)
	}
	d = dsliteConfig()
	d.Softwire.B4.Aftr = nil
	d.Softwire.B4.DiscoverAftr = ygot.Bool(true)
	if err := checkDS(s, d); err != nil {
		t.Fatalf("B4 with discovery only refused: %v", err)
	}
}

// answerARP plays a host at ip with mac on a cable end: it answers ARP
// and returns the IPv4 packets it receives.
func answerARP(ctx context.Context, p *wirePort, ip netip.Addr, mac []byte, got chan<- []byte) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-p.in:
			et := binary.BigEndian.Uint16(f[12:])
			if et == netpkt.EtherTypeARP {
				a, ok := netpkt.ParseARP(f[14:])
				if ok && a.Op == netpkt.ARPRequest && string(a.TPA) == string(ip.AsSlice()) {
					r := make([]byte, 14+netpkt.ARPLen)
					copy(r, f[6:12])
					copy(r[6:], mac)
					binary.BigEndian.PutUint16(r[12:], netpkt.EtherTypeARP)
					netpkt.WriteARP(r[14:], netpkt.ARPReply, mac, ip.AsSlice(), a.SHA, a.SPA)
					p.Send(r)
				}
				continue
			}
			if et == netpkt.EtherTypeIPv4 {
				got <- bytes.Clone(f[14:])
			}
		}
	}
}

func udpFrame(dst, src []byte, from, to netip.AddrPort) []byte {
	f := make([]byte, 14+28+4)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], netpkt.EtherTypeIPv4)
	p := f[14:]
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	copy(p[12:], from.Addr().AsSlice())
	copy(p[16:], to.Addr().AsSlice())
	netpkt.SetIPv4Checksum(p)
	binary.BigEndian.PutUint16(p[20:], from.Port())
	binary.BigEndian.PutUint16(p[22:], to.Port())
	binary.BigEndian.PutUint16(p[24:], 12)
	copy(p[28:], "ping")
	binary.BigEndian.PutUint16(p[26:], netpkt.L4Checksum4(p[12:16], p[16:20], 17, p[20:]))
	return f
}

// TestDSLiteAdapterEndToEnd runs both subsystems over in-memory cables:
// BFD comes up in the tunnel, a LAN host's packet is translated and its
// answer comes back, state and notifications show it.
func TestDSLiteAdapterEndToEnd(t *testing.T) {
	b4wan, aftrin := cable()
	b4lan, hostEnd := cable()
	aftrext, inetEnd := cable()
	ports := map[string]*wirePort{"b4wan": b4wan, "b4lan": b4lan, "aftrin": aftrin, "aftrext": aftrext}
	macs := map[string][6]byte{"b4wan": {2, 0, 0, 0, 0, 1}, "b4lan": {2, 0, 0, 0, 0, 2}, "aftrin": {2, 0, 0, 0, 0, 3}, "aftrext": {2, 0, 0, 0, 0, 4}}
	opts := DSLiteOptions{
		Open:      func(dev string) (DSLitePort, error) { return pktio.Adapt(ports[dev], 0), nil },
		DeviceMAC: func(dev string) ([6]byte, error) { return macs[dev], nil },
		Discover: func(context.Context, string) (aftrname.Result, error) {
			return aftrname.Result{}, context.Canceled
		},
	}
	full := dsliteConfig()
	aftrCfg, b4Cfg := dsliteConfig(), dsliteConfig()
	aftrCfg.Softwire.B4 = nil
	b4Cfg.Softwire.Aftr = nil
	ra, rb := &recorder{}, &recorder{}
	sa, sb := NewDSLiteSubsystem(opts), NewDSLiteSubsystem(opts)
	sa.Attach(ra)
	sb.Attach(rb)
	defer sa.Close()
	defer sb.Close()
	if err := checkDS(sa, full); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		s   *DSLiteSubsystem
		cfg *gen.Device
	}{{sa, aftrCfg}, {sb, b4Cfg}} {
		cs := schema.NewChangeSet(&gen.Device{}, x.cfg, x.s.Owns())
		if err := x.s.Prepare(cs); err != nil {
			t.Fatal(err)
		}
		x.s.Apply(cs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hostGot, inetGot := make(chan []byte, 16), make(chan []byte, 16)
	hostMAC, gwMAC := []byte{2, 0, 0, 0, 0, 0x10}, []byte{2, 0, 0, 0, 0, 0x20}
	go answerARP(ctx, hostEnd, netip.MustParseAddr("192.168.1.100"), hostMAC, hostGot)
	go answerARP(ctx, inetEnd, netip.MustParseAddr("192.0.2.1"), gwMAC, inetGot)

	deadline := time.Now().Add(20 * time.Second)
	var b4st *gen.WirebeatSoftwire_Softwire_B4
	for time.Now().Before(deadline) {
		root := &gen.Device{}
		if err := sb.State(root, nil); err != nil {
			t.Fatal(err)
		}
		b4st = root.GetSoftwire().GetB4()
		// The session's state and the AFTR's status follow one another
		// (the status changes on the engine's change event).
		if st := b4st.GetAftr("2001:db8:a::1").GetState(); st.GetBfdState() == gen.WirebeatSoftwire_BfdState_up &&
			st.GetStatus() == gen.WirebeatSoftwire_AftrStatus_reachable {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := b4st.GetAftr("2001:db8:a::1").GetState()
	if st.GetBfdState() != gen.WirebeatSoftwire_BfdState_up || st.GetStatus() != gen.WirebeatSoftwire_AftrStatus_reachable {
		t.Fatalf("BFD in the tunnel not up at the B4: %+v", st)
	}
	if b4st.GetState().GetActiveAftr() != "2001:db8:a::1" {
		t.Fatalf("active AFTR %q", b4st.GetState().GetActiveAftr())
	}
	// The LAN host sends; the Internet side sees the pool address.
	host := netip.MustParseAddrPort("192.168.1.100:5000")
	server := netip.MustParseAddrPort("203.0.113.9:53")
	lanMAC := macs["b4lan"]
	hostEnd.Send(udpFrame(lanMAC[:], hostMAC, host, server))
	var out []byte
	select {
	case out = <-inetGot:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing reached the Internet side")
	}
	ext := netip.AddrPortFrom(netip.AddrFrom4([4]byte(out[12:16])), binary.BigEndian.Uint16(out[20:]))
	if !netip.MustParsePrefix("198.51.100.0/30").Contains(ext.Addr()) {
		t.Fatalf("translated to %v", ext)
	}
	extMAC := macs["aftrext"]
	inetEnd.Send(udpFrame(extMAC[:], gwMAC, server, ext))
	select {
	case back := <-hostGot:
		if netip.AddrFrom4([4]byte(back[16:20])) != host.Addr() || binary.BigEndian.Uint16(back[22:]) != host.Port() {
			t.Fatalf("answer to %x", back[12:24])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the answer did not reach the host")
	}
	// The AFTR's passive session is up once the B4's next packet says so.
	var root *gen.Device
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		root = &gen.Device{}
		if err := sa.State(root, nil); err != nil {
			t.Fatal(err)
		}
		if root.GetSoftwire().GetAftr().GetActiveB4("2001:db8:100::a").GetBfdState() == gen.WirebeatSoftwire_BfdState_up {
			break
		}
	}
	ab := root.GetSoftwire().GetAftr().GetActiveB4("2001:db8:100::a")
	if ab.GetSessions() != 1 || ab.GetBfdState() != gen.WirebeatSoftwire_BfdState_up || ab.GetExternalAddress() != ext.Addr().String() {
		t.Fatalf("active-b4 %+v", ab)
	}
	if root.GetSoftwire().GetAftr().GetCounters().GetNatSessions() != 1 {
		t.Fatal("nat-sessions counter")
	}
	dyn := sa.softwireSessions()
	if len(dyn) != 1 || !dyn[0].Dynamic || dyn[0].B4 != netip.MustParseAddr("2001:db8:100::a") {
		t.Fatalf("AFTR softwire sessions %+v", dyn)
	}
	if cs := sb.softwireSessions(); len(cs) != 1 || cs[0].Role != "b4" {
		t.Fatalf("B4 softwire sessions %+v", cs)
	}
	if n := strings.Join(ra.names(), ","); !strings.Contains(n, "port-block") {
		t.Fatalf("AFTR events %s", n)
	}
	if n := strings.Join(rb.names(), ","); !strings.Contains(n, "aftr-failover") {
		t.Fatalf("B4 events %s", n)
	}
}

// An AFTR configured without any /bfd container is accepted (no nil
// dereference on the absent /bfd/softwire).
func TestDSLiteAFTRWithoutBFDTree(t *testing.T) {
	s := NewDSLiteSubsystem(DSLiteOptions{
		Open:      func(string) (DSLitePort, error) { a, _ := cable(); return pktio.Adapt(a, 0), nil },
		DeviceMAC: func(string) ([6]byte, error) { return [6]byte{2, 0, 0, 0, 0, 1}, nil },
	})
	defer s.Close()
	d := dsliteConfig()
	d.Bfd = nil
	d.Softwire.Aftr.Bfd = nil
	d.Softwire.B4.Bfd = nil
	if err := checkDS(s, d); err != nil {
		t.Fatal(err)
	}
}
