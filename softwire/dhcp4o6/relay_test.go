package dhcp4o6

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/bindstore"
	"github.com/wirebeat/wirebeat/softwire/failover"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/tools/etcdtest"
	"github.com/wirebeat/wirebeat/tools/netns"
)

type nullSender struct{}

func (nullSender) Send(lwaftr.Port, []byte) {}

// TestPrimaryCreatesBindingOnProvisioning: the lwB4 provisions through the
// primary lwAFTR, which relays DHCPv4-over-DHCPv6 to a real Kea pair; the
// DHCPACK the relay passes back is a successful provisioning, so the
// primary installs the binding and writes it, with a lease, to a real
// etcd cluster, where a backup's cache finds it.
func TestPrimaryCreatesBindingOnProvisioning(t *testing.T) {
	cli := netns.New(t, "rc")
	aftr := netns.New(t, "ra")
	kea := netns.New(t, "rk")
	cIf, aIf := netns.Unique("rc"), netns.Unique("ra")
	a2If, kIf := netns.Unique("ra"), netns.Unique("rk")
	netns.Veth(t, cli, cIf, aftr, aIf)
	netns.Veth(t, aftr, a2If, kea, kIf)
	cli.Addr(t, cIf, "2001:db8:b4::b4/64")
	aftr.Addr(t, aIf, "2001:db8:b4::1/64")
	aftr.Addr(t, a2If, "2001:db8:ff::1/64")
	kea.Addr(t, kIf, "2001:db8:ff::2/64")
	kea.Addr(t, kIf, "10.99.0.1/24")
	fastLinkLocal(t, cli, cIf, "fe80::b4")
	fastLinkLocal(t, aftr, aIf, "fe80::1")
	fastLinkLocal(t, kea, kIf, "fe80::2")
	dir := t.TempDir()
	v6, v4 := keaConfigsFor(dir, kIf, kIf+"/2001:db8:ff::2", 6767, "2001:db8:ac::1", "06045000", true)
	dump := startKea(t, kea, dir, v6, v4)

	// The primary: etcd store, failover manager, lwAFTR engine, relay.
	c := etcdtest.Start(t, 3)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := bindstore.Open(bindstore.Config{Endpoints: c.Endpoints(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	anycast := netip.MustParseAddr("2001:db8:ac::1").As16()
	m, err := failover.New(failover.Config{Mode: failover.DataPacketTrigger, Anycast: anycast, Log: quiet}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ec := lwaftr.Config{External: lwaftr.DefaultSide(true), Internal: lwaftr.DefaultSide(false)}
	ec.External.IP, ec.Internal.IP = []byte{198, 51, 100, 1}, anycast[:]
	ec.External.NextHopMACSet, ec.Internal.NextHopMACSet = true, true
	eng, err := lwaftr.New(ec, bindingtable.New(16), nullSender{})
	if err != nil {
		t.Fatal(err)
	}
	eng.SetUnknownSource(m)

	var conn *net.UDPConn
	var idx int
	if err := aftr.Do(func() error {
		ifi, err := net.InterfaceByName(aIf)
		if err != nil {
			return err
		}
		idx = ifi.Index
		conn, err = ListenRelay(aIf)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got := make(chan bindingtable.Softwire, 4)
	r := &Relay{Conn: conn, Iface: strconv.Itoa(idx), InterfaceID: []byte("b4-link"), LinkAddr: netip.MustParseAddr("2001:db8:b4::1"),
		Servers: []netip.AddrPort{netip.MustParseAddrPort("[2001:db8:ff::2]:547")}, BR: anycast, Log: quiet,
		OnBinding: func(b bindingtable.Softwire, lease time.Duration) error {
			if err := m.Provisioned(context.Background(), b); err != nil {
				t.Errorf("Provisioned: %v", err)
			}
			got <- b
			return nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Serve(ctx)

	l := provisionFrom(t, cli, cIf, dump)
	var b bindingtable.Softwire
	select {
	case b = <-got:
	case <-time.After(5 * time.Second):
		t.Fatalf("no binding from the relay (forwarded %d, replied %d)", r.C.Forwarded.Load(), r.C.Replied.Load())
	}
	want := bindingtable.Softwire{IPv4: l.Binding.IPv4, PSID: 5, PortSet: bindingtable.PortSet{Offset: 6, Length: 4},
		B4: netip.MustParseAddr("2001:db8:b4::b4").As16(), BR: anycast}
	if b != want {
		t.Fatalf("binding %+v, want %+v", b, want)
	}
	eng.Flush()
	if sw, ok := eng.Table().Get(b.IPv4, b.PSID); !ok || sw.B4 != want.B4 {
		t.Fatal("the primary did not install the binding")
	}
	if d := m.Dynamic(); len(d) != 1 || d[0].Origin != failover.Provisioned || d[0].Lease == 0 {
		t.Fatalf("dynamic bindings %+v", d)
	}
	// A backup finds it in etcd.
	bst, err := bindstore.Open(bindstore.Config{Endpoints: c.Endpoints(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer bst.Close()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := bst.WaitSynced(wctx); err != nil {
		t.Fatal(err)
	}
	if v, res, err := bst.Validate(ctx, want.B4, want.IPv4, 5<<6|1<<12); err != nil || res != bindstore.Valid || v != want {
		t.Fatalf("backup validation: %+v %v %v", v, res, err)
	}
}
