package softwire

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/failover"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

func failoverDev(mode gen.E_WirebeatSoftwire_FailoverMode, f func(*gen.WirebeatSoftwire_Softwire_Lwaftr_Failover)) *gen.Device {
	d := &gen.Device{}
	fo := d.GetOrCreateSoftwire().GetOrCreateLwaftr().GetOrCreateFailover()
	fo.Mode = mode
	f(fo)
	return d
}

func TestFailoverConfig(t *testing.T) {
	any := "2001:db8:ac::1"
	s, err := FailoverConfig(failoverDev(gen.WirebeatSoftwire_FailoverMode_data_packet_trigger, func(fo *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover) {
		fo.AnycastAddress = &any
		lt, max := uint32(600), uint32(1000)
		fo.DynamicBindingLifetime, fo.MaxDynamicBindings = &lt, &max
		vs := fo.GetOrCreateValidationSource()
		vs.Type = gen.WirebeatSoftwire_BindingSource_etcd
		vs.GetOrCreateEtcd().Endpoint = []string{"http://127.0.0.1:2379", "http://127.0.0.2:2379"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Manager.Mode != failover.DataPacketTrigger || s.Manager.Anycast != netip.MustParseAddr(any).As16() ||
		s.Manager.Lifetime != 10*time.Minute || s.Manager.MaxDynamic != 1000 || s.Store == nil ||
		len(s.Store.Endpoints) != 2 || s.Store.Prefix != "/wirebeat/lwaftr/bindings/" {
		t.Fatalf("%+v %+v", s.Manager, s.Store)
	}
	for _, c := range []struct {
		mode gen.E_WirebeatSoftwire_FailoverMode
		f    func(*gen.WirebeatSoftwire_Softwire_Lwaftr_Failover)
		why  string
	}{
		{gen.WirebeatSoftwire_FailoverMode_icmpv6_trigger, func(*gen.WirebeatSoftwire_Softwire_Lwaftr_Failover) {}, "anycast-address: required"},
		{gen.WirebeatSoftwire_FailoverMode_data_packet_trigger, func(fo *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover) {
			fo.AnycastAddress = &any
		}, "validation-source/type"},
		{gen.WirebeatSoftwire_FailoverMode_data_packet_trigger, func(fo *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover) {
			fo.AnycastAddress = &any
			fo.GetOrCreateValidationSource().Type = gen.WirebeatSoftwire_BindingSource_etcd
		}, "endpoint: at least one"},
		{gen.WirebeatSoftwire_FailoverMode_data_packet_trigger, func(fo *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover) {
			fo.AnycastAddress = &any
			vs := fo.GetOrCreateValidationSource()
			vs.Type = gen.WirebeatSoftwire_BindingSource_etcd
			vs.GetOrCreateEtcd().Endpoint = []string{"https://127.0.0.1:2379"}
			ca := "/nonexistent/ca.pem"
			vs.GetOrCreateEtcd().GetOrCreateTls().CaFile = &ca
		}, "ca-file"},
	} {
		if _, err := FailoverConfig(failoverDev(c.mode, c.f)); err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%v, want %q", err, c.why)
		}
	}
	if s, err := FailoverConfig(&gen.Device{}); err != nil || s.Manager.Mode != failover.None {
		t.Fatalf("no failover: %+v %v", s, err)
	}
}

type nullSender struct{}

func (nullSender) Send(lwaftr.Port, []byte) {}

func TestFillFailoverState(t *testing.T) {
	c := lwaftr.Config{External: lwaftr.DefaultSide(true), Internal: lwaftr.DefaultSide(false)}
	c.External.IP, c.Internal.IP = []byte{198, 51, 100, 1}, netip.MustParseAddr("2001:db8::1").AsSlice()
	c.External.NextHopMACSet, c.Internal.NextHopMACSet = true, true
	e, err := lwaftr.New(c, bindingtable.New(4), nullSender{})
	if err != nil {
		t.Fatal(err)
	}
	any := netip.MustParseAddr("2001:db8:ac::1").As16()
	rec := &recordSink{}
	onC, onR := FailoverNotifications(rec)
	m, err := failover.New(failover.Config{Mode: failover.ICMPv6Trigger, Anycast: any, Lifetime: 10 * time.Second,
		OnCreated: onC, OnRemoved: onR}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e.SetUnknownSource(m)
	b := bindingtable.Softwire{IPv4: 0xc0000201, PSID: 3, PortSet: bindingtable.PortSet{Offset: 6, Length: 4},
		B4: netip.MustParseAddr("2001:db8:b4::1").As16(), BR: any}
	if err := m.Provisioned(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	e.Flush()
	dev := &gen.Device{}
	fo := dev.GetOrCreateSoftwire().GetOrCreateLwaftr().GetOrCreateFailover()
	FillFailoverState(fo, nil, m)
	st := fo.GetState()
	if st.GetDynamicBindingCount() != 1 || st.GetBindingsCreated() != 1 || !st.GetInService() {
		t.Fatalf("state %+v", st)
	}
	db := fo.GetDynamicBinding("192.0.2.1", 3)
	if db == nil || db.GetB4Ipv6() != "2001:db8:b4::1" || db.GetPsidLength() != 4 || db.GetPsidOffset() != 6 ||
		db.CreatedBy != gen.WirebeatSoftwire_BindingCreatedReason_provisioned {
		t.Fatalf("dynamic binding %+v", db)
	}
	m.SetInService(false)
	FillFailoverState(fo, nil, m)
	if fo.GetState().GetInService() {
		t.Fatal("in-service after SetInService(false)")
	}
	if len(rec.evs) != 1 || rec.evs[0].Name != "binding-created" || rec.evs[0].Leaves[0].Value != "192.0.2.1" ||
		rec.evs[0].Leaves[4].Value != "provisioned" {
		t.Fatalf("notifications %+v", rec.evs)
	}
}

type recordSink struct{ evs []events.Event }

func (r *recordSink) Publish(e events.Event) { r.evs = append(r.evs, e) }
