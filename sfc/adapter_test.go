package sfc

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/sfc/nsh"
)

type recorder struct{ ch chan events.Event }

func (r *recorder) Publish(e events.Event) {
	select {
	case r.ch <- e:
	default:
	}
}

// freeUDPPort finds a port free on both loopback addresses the test uses.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if d, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.2:%d", p)); err == nil {
			d.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// An SF node on loopback: NSH over UDP from 127.0.0.3 (the boundary), to
// the next SF at 127.0.0.2.
func sfNodeJSON(port int, extra string) string {
	return fmt.Sprintf(`{
 "wirebeat-bfd:bfd": {"profiles": {"profile": [{"name": "fast", "desired-min-tx-interval": 100000, "required-min-rx-interval": 100000}]}},
 "wirebeat-sfc:sfc": {
  "node": {"role": ["sf-node"], "local-sf-id": "fw", "boundary-node": ["127.0.0.3"]},
  "encapsulation": {"transport": "udp", "udp-port": %d, "local-address": "127.0.0.1"},
  "service-functions": {"service-function": [
    {"id": "fw", "locator": [{"address": "127.0.0.1"}]},
    {"id": "dpi", "locator": [{"address": "127.0.0.2"}]%s}
  ]},
  "sf-maps": {"sf-map": [{"index": 10, "service-function": ["fw", "dpi"]}]}
 }}`, port, extra)
}

func newServer(t *testing.T, sub *Subsystem, cfg string) (*server.Server, error) {
	srv, err := server.New(server.Options{DataDir: t.TempDir(), Initial: []byte(cfg), Subsystems: []server.Subsystem{sub},
		Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Cleanup(func() { srv.Close() })
	}
	return srv, err
}

func TestAdapterForwardsAndRendersState(t *testing.T) {
	port := freeUDPPort(t)
	sub := New(Options{})
	srv, err := newServer(t, sub, sfNodeJSON(port, ""))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{ch: make(chan events.Event, 16)}
	sub.Attach(rec) // after the server's own Attach
	next, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.2:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	from, err := net.ListenPacket("udp4", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()

	h := nsh.Header{TTL: 63, MDType: 1, NextProtocol: nsh.ProtoIPv4, SPI: 10, SI: 255}
	pkt := make([]byte, nsh.MD1Len+20)
	_, _ = h.Encode(pkt)
	pkt[nsh.MD1Len] = 0x45
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	if _, err := from.WriteTo(pkt, to); err != nil {
		t.Fatal(err)
	}
	_ = next.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := next.ReadFrom(buf)
	if err != nil {
		t.Fatalf("nothing forwarded: %v", err)
	}
	var got nsh.Header
	if _, err := got.Decode(buf[:n]); err != nil || got.SPI != 10 || got.SI != 254 || got.TTL != 62 {
		t.Fatalf("forwarded %+v %v", got, err)
	}
	// A truncated NSH and an unknown SPI: counted, nothing sent.
	_, _ = from.WriteTo(pkt[:5], to)
	h.SPI = 99
	_, _ = h.Encode(pkt)
	_, _ = from.WriteTo(pkt, to)

	var st *gen.Device
	for range 500 {
		st, err = srv.State(nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.GetSfc().GetCounters().GetUnknownMapDrops() == 1 && st.GetSfc().GetCounters().GetMalformed().GetTruncated() == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := st.GetSfc().GetCounters()
	if c.GetForwardedPackets() != 1 || c.GetLocalSfInvocations() != 1 || c.GetMalformedDrops() != 1 || c.GetUnknownMapDrops() != 1 {
		t.Fatalf("counters %+v", c)
	}
	pt := st.GetSfc().GetPolicyTable()
	e := pt.GetEntry(10, 255)
	if pt.GetEntryCount() != 3 || pt.GetLocalSfId() != "fw" || e.GetAction() != gen.WirebeatSfc_PolicyAction_local || e.GetPackets() != 1 {
		t.Fatalf("policy table %d entries, entry 10/255 %+v", pt.GetEntryCount(), e)
	}
	if nh := pt.GetEntry(10, 254).GetNextHop(); len(nh) != 1 || nh[0] != "127.0.0.2" {
		t.Fatalf("next hops %v", nh)
	}
	// Asked for the counters only, the table is not rendered.
	only := &gen.Device{}
	if err := sub.State(only, []*gpb.Path{sfcPath(elem("counters"))}); err != nil {
		t.Fatal(err)
	}
	if only.GetSfc().GetCounters().GetForwardedPackets() != 1 || only.GetSfc().GetPolicyTable() != nil || only.GetSfc().GetServiceFunctions() != nil {
		t.Fatalf("state for /sfc/counters rendered %+v", only.GetSfc())
	}
	sess := srv.OpenSession("admin", server.RoleAdmin, "test", "local")
	if err := srv.Edit(sess, server.Running, func(root *gen.Device) error {
		d := "inspect"
		root.Sfc.SfMaps.SfMap[10].Description = &d
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-rec.ch:
		if ev.Name != "policy-table-updated" {
			t.Fatalf("event %s", ev.Name)
		}
	default:
		t.Fatal("no policy-table-updated notification")
	}
}

// A misspelt BFD profile fails the commit (the reference is a leafref),
// and so do configurations the node cannot run; nothing changes.
func TestAdapterRefusesBadConfig(t *testing.T) {
	port := freeUDPPort(t)
	sub := New(Options{})
	good := sfNodeJSON(port, `, "liveness": {"method": "multi-hop", "bfd-profile": "fast", "local-address": "127.0.0.1"}`)
	if _, err := newServer(t, New(Options{}), strings.Replace(good, `"bfd-profile": "fast"`, `"bfd-profile": "fsat"`, 1)); err == nil {
		t.Fatal("misspelt profile accepted at start")
	}
	srv, err := newServer(t, sub, good)
	if err != nil {
		t.Fatal(err)
	}
	sess := srv.OpenSession("admin", server.RoleAdmin, "test", "local")
	for _, c := range []struct {
		edit func(*gen.WirebeatSfc_Sfc)
		want string
	}{
		{func(s *gen.WirebeatSfc_Sfc) {
			p := "fsat"
			s.ServiceFunctions.ServiceFunction["dpi"].Liveness.BfdProfile = &p
		}, "fsat"},
		{func(s *gen.WirebeatSfc_Sfc) {
			s.Node.GetOrCreatePolicyTable().Mode = gen.WirebeatSfc_PolicyTableMode_lightweight
		}, "lightweight"},
		{func(s *gen.WirebeatSfc_Sfc) {
			s.Encapsulation.Transport = gen.WirebeatSfc_Sfc_Encapsulation_Transport_ethernet
		}, "needs encapsulation/interface"},
		{func(s *gen.WirebeatSfc_Sfc) { v := uint16(100); s.Encapsulation.VlanId = &v }, "vlan-id is for transport ethernet"},
		{func(s *gen.WirebeatSfc_Sfc) {
			s.Encapsulation.Transport = gen.WirebeatSfc_Sfc_Encapsulation_Transport_gre
		}, "not in this build"},
		{func(s *gen.WirebeatSfc_Sfc) { s.Node.ExternalInterface = []string{"eth0"} }, "boundary or classifier role"},
		{func(s *gen.WirebeatSfc_Sfc) {
			s.SfMaps.SfMap[10].ServiceFunction = []string{"fw", "dpi", "fw"}
		}, "listed twice"},
		{func(s *gen.WirebeatSfc_Sfc) { s.Node.Role = append(s.Node.Role, gen.WirebeatSfc_NodeRole_boundary) }, "routing-interface"},
		{func(s *gen.WirebeatSfc_Sfc) { l := "dpi"; s.Node.LocalSfId = &l }, "is not its local SF"},
		{func(s *gen.WirebeatSfc_Sfc) {
			s.Node.GetOrCreatePolicyTable().Mode = gen.WirebeatSfc_PolicyTableMode_lightweight
			f := false
			s.GetOrCreateLoopDetection().Enabled = &f
			m, _ := s.SfMaps.NewSfMap(20)
			m.ServiceFunction = []string{"dpi"}
		}, "does not list local SF"},
	} {
		err := srv.Edit(sess, server.Running, func(root *gen.Device) error { c.edit(root.Sfc); return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
	if p := srv.Running().GetSfc().GetServiceFunctions().GetServiceFunction("dpi").GetLiveness().GetBfdProfile(); p != "fast" {
		t.Fatalf("running changed: profile %q", p)
	}
	// The multihop session to the locator exists in the BFD engine.
	sub.mu.Lock()
	n := len(sub.watches)
	sub.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d liveness sessions, want 1", n)
	}
}
