package softwire

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire/dhcp4o6"
	"github.com/wirebeat/wirebeat/softwire/netpkt"
	"github.com/wirebeat/wirebeat/tools/netns"
)

// relayClientFrame is a DHCPv4-query from B4 src (naming softwire
// address b4) to the anycast address, port 547, as the internal link
// delivers it.
func relayClientFrame(src, b4 netip.Addr, xid uint32) []byte {
	m4 := dhcp4o6.Message4{Op: 1, HType: 1, HLen: 6, XID: xid, Options: []dhcp4o6.Option4{{Code: dhcp4o6.Opt4MsgType, Data: []byte{dhcp4o6.Request}}}}.Append(nil)
	a := b4.As16()
	msg := dhcp4o6.Message{Type: dhcp4o6.MsgDHCPv4Query, Options: []dhcp4o6.Option{{Code: dhcp4o6.OptDHCPv4Msg, Data: m4},
		{Code: dhcp4o6.OptS46BindPrefix, Data: append([]byte{128}, a[:]...)}}}.Append(nil)
	f := make([]byte, 14+48+len(msg))
	copy(f[0:6], []byte{0x22, 0x22, 0x22, 0x22, 0x22, 0x22})
	copy(f[6:12], []byte{0x44, 0x44, 0x44, 0x44, 0x44, 0x44})
	f[12], f[13] = 0x86, 0xdd
	s, d := src.As16(), netip.MustParseAddr("8:9:a:b:c:d:e:f").As16()
	p := f[14:]
	netpkt.WriteIPv6Header(p, 0, 8+len(msg), 17, s[:], d[:])
	p[40], p[41], p[42], p[43] = 2, 34, 2, 35 // 546 -> 547
	p[44], p[45] = byte((8+len(msg))>>8), byte(8+len(msg))
	copy(p[48:], msg)
	c := netpkt.L4Checksum6(s[:], d[:], 17, p[40:])
	p[46], p[47] = byte(c>>8), byte(c)
	return f
}

// TestSubsystemRelayCreatesBinding runs the relay through the lwAFTR
// adapter (icmpv6-trigger, no store, max-dynamic-bindings 1) in a network
// namespace of its own (the relay's socket takes port 547): a
// DHCPv4-query arriving on the internal link reaches the server as
// Relay-forward; the server's DHCPACK comes back to the client as a
// frame on the internal link from the anycast address, and the lwAFTR
// holds the binding (created-by provisioned, binding-created naming this
// lwAFTR); a second B4's DHCPACK beyond max-dynamic-bindings makes no
// binding and is counted; relay counters are in state.
//
// With two workers the B4's frames reach the second one; the answer may
// leave by either worker's link.
func TestSubsystemRelayCreatesBinding(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { testRelayCreatesBinding(t, workers) })
	}
}

func testRelayCreatesBinding(t *testing.T, workers int) {
	ns := netns.New(t, "sr")
	var all []map[string]*memLink
	for range workers {
		all = append(all, map[string]*memLink{"ext0": newMemLink(), "int0": newMemLink()})
	}
	links := all[workers-1]
	sub := NewLwaftrSubsystem(LwaftrOptions{OpenDriver: func(dev, _ string, w, _ int) (Link, error) { return all[w][dev], nil }})
	sink := &syncSink{}
	sub.Attach(sink)
	defer sub.Close()
	var server *net.UDPConn
	if err := ns.Do(func() (err error) {
		server, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	srv := server.LocalAddr().(*net.UDPAddr).AddrPort()
	fo := `"failover": {"mode": "icmpv6-trigger", "anycast-address": "8:9:a:b:c:d:e:f", "max-dynamic-bindings": 1,
	  "dhcpv4-over-dhcpv6-relay": {"enabled": true, "server": ["::1"], "server-port": ` + strconv.Itoa(int(srv.Port())) + `,
	    "source-address": "::1", "link-address": "2001:db8:b4::1"}}, "workers": ` + strconv.Itoa(workers) + `, "binding-table"`
	dev := &gen.Device{}
	if err := gen.Unmarshal([]byte(strings.Replace(testConfigJSON, `"binding-table"`, fo, 1)), dev); err != nil {
		t.Fatal(err)
	}
	cs := schema.NewChangeSet(&gen.Device{}, dev, sub.Owns())
	if err := ns.Do(func() error { return sub.Prepare(cs) }); err != nil {
		t.Fatal(err)
	}
	sub.Apply(cs)

	buf := make([]byte, 4096)
	exchange := func(b4src, b4 netip.Addr, xid uint32, yiaddr [4]byte) {
		t.Helper()
		links["int0"].in <- relayClientFrame(b4src, b4, xid)
		_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, from, err := server.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no Relay-forward at the server: %v", err)
		}
		rf, err := dhcp4o6.ParseRelay(buf[:n])
		if err != nil || netip.AddrFrom16(rf.PeerAddr) != b4src {
			t.Fatalf("Relay-forward %+v %v", rf, err)
		}
		ack := dhcp4o6.Message4{Op: 2, XID: xid, YIAddr: yiaddr, Options: []dhcp4o6.Option4{{Code: dhcp4o6.Opt4MsgType, Data: []byte{dhcp4o6.Ack}},
			{Code: dhcp4o6.Opt4LeaseTime, Data: []byte{0, 0, 0x0e, 0x10}}, {Code: dhcp4o6.Opt4PortParams, Data: []byte{6, 6, 0x0c, 0}}}}.Append(nil)
		resp := dhcp4o6.Message{Type: dhcp4o6.MsgDHCPv4Answer, Options: []dhcp4o6.Option{{Code: dhcp4o6.OptDHCPv4Msg, Data: ack}}}.Append(nil)
		rr := dhcp4o6.RelayMessage{Type: dhcp4o6.MsgRelayRepl, LinkAddr: rf.LinkAddr, PeerAddr: rf.PeerAddr, Contained: resp}.Append(nil)
		if _, err := server.WriteToUDPAddrPort(rr, from); err != nil {
			t.Fatal(err)
		}
		out := make(chan []byte, 64)
		stop := make(chan struct{})
		defer close(stop)
		for _, l := range all {
			go func() {
				for {
					select {
					case f := <-l["int0"].out:
						select {
						case out <- f:
						case <-stop:
							return
						}
					case <-stop:
						return
					}
				}
			}()
		}
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
			select {
			case f := <-out:
				p := f[14:]
				if len(p) > 48 && p[6] == 17 && netip.AddrFrom16([16]byte(p[24:40])) == b4src {
					if netip.AddrFrom16([16]byte(p[8:24])).String() != "8:9:a:b:c:d:e:f" || p[42] != 2 || p[43] != 34 ||
						netpkt.L4Checksum6(p[8:24], p[24:40], 17, p[40:]) != 0 || string(p[48:]) != string(resp) {
						t.Fatalf("answer to the client: % x", p)
					}
					return
				}
			case <-time.After(100 * time.Millisecond):
			}
		}
		t.Fatal("no answer to the client on the internal link")
	}
	exchange(netip.MustParseAddr("2001:db8:b4::c1"), netip.MustParseAddr("2001:db8:b4::b1"), 77, [4]byte{192, 0, 2, 50})
	state := func() *gen.Device {
		root := &gen.Device{}
		if err := sub.State(root, nil); err != nil {
			t.Fatal(err)
		}
		return root
	}
	waitUntil(t, 10*time.Second, "the dynamic binding", func() bool {
		return state().GetSoftwire().GetLwaftr().GetFailover().GetDynamicBinding("192.0.2.50", 3) != nil
	})
	db := state().GetSoftwire().GetLwaftr().GetFailover().GetDynamicBinding("192.0.2.50", 3)
	if db.GetB4Ipv6() != "2001:db8:b4::b1" || db.CreatedBy != gen.WirebeatSoftwire_BindingCreatedReason_provisioned {
		t.Fatalf("dynamic binding %+v", db)
	}
	waitUntil(t, 10*time.Second, "binding-created", func() bool { _, ok := sink.find("binding-created"); return ok })
	if e, _ := sink.find("binding-created"); eventLeaf(e, "lwaftr") != "10.10.10.10" || eventLeaf(e, "reason") != "provisioned" {
		t.Fatalf("binding-created %+v", e)
	}
	// A second B4 beyond max-dynamic-bindings 1: relayed, no binding.
	exchange(netip.MustParseAddr("2001:db8:b4::c2"), netip.MustParseAddr("2001:db8:b4::b2"), 78, [4]byte{192, 0, 2, 51})
	rs := state().GetSoftwire().GetLwaftr().GetFailover().GetDhcpv4OverDhcpv6Relay().GetState()
	if rs.GetClientMessages() != 2 || rs.GetReplied() != 2 || rs.GetBindings() != 1 || rs.GetBindingErrors() != 1 {
		t.Fatalf("relay state: client %d replied %d bindings %d errors %d", rs.GetClientMessages(), rs.GetReplied(), rs.GetBindings(), rs.GetBindingErrors())
	}
	if state().GetSoftwire().GetLwaftr().GetFailover().GetDynamicBinding("192.0.2.51", 3) != nil {
		t.Fatal("a binding beyond max-dynamic-bindings")
	}
}
