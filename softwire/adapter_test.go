package softwire

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// memLink is an in-memory interface: the test writes frames into in and
// reads what the engine sent from out.
type memLink struct {
	in, out chan []byte
}

func newMemLink() *memLink { return &memLink{in: make(chan []byte, 64), out: make(chan []byte, 64)} }

func (l *memLink) ReadBatch(bufs [][]byte, lens []int) (int, error) {
	select {
	case f := <-l.in:
		lens[0] = copy(bufs[0], f)
	case <-time.After(20 * time.Millisecond):
		return 0, nil
	}
	n := 1
	for n < len(bufs) {
		select {
		case f := <-l.in:
			lens[n] = copy(bufs[n], f)
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

func (l *memLink) Write(f []byte) error {
	l.out <- append([]byte(nil), f...)
	return nil
}

func (l *memLink) Close() error { return nil }

// await returns the next frame the engine sent, failing after a generous
// bound (this is not a timing assertion: the frame is expected at once).
func await(t *testing.T, l *memLink) []byte {
	t.Helper()
	select {
	case f := <-l.out:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no frame sent")
		return nil
	}
}

const testConfigJSON = `{"wirebeat-softwire:softwire": {"lwaftr": {
  "enabled": true,
  "external-interface": {"device": "ext0", "ip": "10.10.10.10", "mac": "12:12:12:12:12:12", "next-hop": {"mac": "68:68:68:68:68:68"}},
  "internal-interface": {"device": "int0", "ip": "8:9:a:b:c:d:e:f", "mac": "22:22:22:22:22:22", "next-hop": {"mac": "44:44:44:44:44:44"}},
  "binding-table": {"softwire": [
    {"ipv4": "192.0.2.1", "psid": 1, "b4-ipv6": "2001:db8::1", "br-address": "8:9:a:b:c:d:e:f", "port-set": {"psid-length": 6}},
    {"ipv4": "192.0.2.1", "psid": 2, "b4-ipv6": "2001:db8::2", "br-address": "8:9:a:b:c:d:e:f", "port-set": {"psid-length": 6}}
  ]}
}}}`

// tcpTo builds an IPv4 TCP frame from the Internet to addr:port.
func tcpTo(addr [4]byte, port uint16) []byte {
	f := make([]byte, 14+40)
	copy(f[0:6], []byte{0x12, 0x12, 0x12, 0x12, 0x12, 0x12})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	h := f[14:]
	h[0], h[8], h[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(h[2:], 40)
	copy(h[12:16], []byte{198, 51, 100, 7})
	copy(h[16:20], addr[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(h[20:], 80)
	binary.BigEndian.PutUint16(h[22:], port)
	h[32] = 0x50
	return f
}

// TestSubsystemIncrementalBindings runs the adapter under a server:
// traffic is encapsulated per the binding table, and adding or removing one
// softwire by an edit changes the running table without restarting the
// engine.
func TestSubsystemIncrementalBindings(t *testing.T) {
	links := map[string]*memLink{"ext0": newMemLink(), "int0": newMemLink()}
	sub := NewLwaftrSubsystem(LwaftrOptions{Open: func(dev string) (Link, error) {
		l, ok := links[dev]
		if !ok {
			return nil, fmt.Errorf("no device %s", dev)
		}
		return l, nil
	}})
	srv, err := server.New(server.Options{DataDir: t.TempDir(), Initial: []byte(testConfigJSON), Subsystems: []server.Subsystem{sub},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	sess := srv.OpenSession("admin", server.RoleAdmin, "test", "local")
	ext, in := links["ext0"], links["int0"]
	addr := [4]byte{192, 0, 2, 1}
	psidPort := func(psid uint16) uint16 { return psid<<10 | 5 }

	ext.in <- tcpTo(addr, psidPort(2))
	if f := await(t, in); string(f[14+24:14+40]) != string([]byte{0x20, 0x01, 0x0d, 0xb8, 12: 0, 0, 0, 2}) {
		t.Fatalf("encapsulated to % x, want 2001:db8::2", f[14+24:14+40])
	}
	first := sub.run

	// Add psid 3 by an edit of one entry.
	err = srv.Edit(sess, server.Running, func(root *gen.Device) error {
		sw, err := root.Softwire.Lwaftr.BindingTable.NewSoftwire("192.0.2.1", 3)
		if err != nil {
			return err
		}
		b4, br, l := "2001:db8::3", "8:9:a:b:c:d:e:f", uint8(6)
		sw.B4Ipv6, sw.BrAddress = &b4, &br
		sw.GetOrCreatePortSet().PsidLength = &l
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ext.in <- tcpTo(addr, psidPort(3))
	if f := await(t, in); f[14+39] != 3 {
		t.Fatalf("added softwire not used: % x", f[14+24:14+40])
	}
	if sub.run != first {
		t.Fatal("a binding edit restarted the engine")
	}

	// Remove psid 2; its traffic is now dropped as unbound.
	err = srv.Edit(sess, server.Running, func(root *gen.Device) error {
		delete(root.Softwire.Lwaftr.BindingTable.Softwire, gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire_Key{Ipv4: "192.0.2.1", Psid: 2})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ext.in <- tcpTo(addr, psidPort(2))
	ext.in <- tcpTo(addr, psidPort(1)) // still bound: marks that the one before was processed
	if f := await(t, in); f[14+39] != 1 {
		t.Fatalf("expected the psid 1 packet, got % x", f[14+24:14+40])
	}
	st, err := srv.State(nil)
	if err != nil {
		t.Fatal(err)
	}
	lw := st.GetSoftwire().GetLwaftr()
	if got := lw.GetCounters().GetDropNoBindingIpv4Packets(); got != 1 {
		t.Fatalf("drop-no-binding-ipv4-packets = %d, want 1", got)
	}
	if got := lw.GetBindingTable().GetSoftwireCount(); got != 2 {
		t.Fatalf("softwire-count = %d, want 2", got)
	}
	if sub.run != first {
		t.Fatal("a binding removal restarted the engine")
	}

	// A softwire that splits the address's ports differently is refused
	// and nothing changes.
	err = srv.Edit(sess, server.Running, func(root *gen.Device) error {
		sw, _ := root.Softwire.Lwaftr.BindingTable.NewSoftwire("192.0.2.1", 9)
		b4, br, l := "2001:db8::9", "8:9:a:b:c:d:e:f", uint8(8)
		sw.B4Ipv6, sw.BrAddress = &b4, &br
		sw.GetOrCreatePortSet().PsidLength = &l
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "port-set differs") {
		t.Fatalf("inconsistent port set: %v", err)
	}
	if e := schema.AsError(err); schema.PathString(e.Path) != "/softwire/lwaftr/binding-table/softwire[ipv4=192.0.2.1][psid=9]" {
		t.Fatalf("error path %s, want the refused entry's", schema.PathString(e.Path))
	}
	if n := len(srv.Running().Softwire.Lwaftr.BindingTable.Softwire); n != 2 {
		t.Fatalf("running has %d softwires after a refused edit", n)
	}
}

func TestSubsystemValidate(t *testing.T) {
	sub := NewLwaftrSubsystem(LwaftrOptions{})
	for _, c := range []struct{ edit, want string }{
		{`"device": "int0"`, `internal-interface/device: required`},
		{`"ip": "10.10.10.10"`, `external-interface/ip: missing`},
		{`"psid": 2,`, `"psid": 64,`},
	} {
		js := strings.Replace(testConfigJSON, c.edit, `"x-removed": 0`, 1)
		if c.edit == `"psid": 2,` {
			js = strings.Replace(testConfigJSON, c.edit, c.want, 1)
		}
		js = strings.Replace(js, `"x-removed": 0,`, ``, 1)
		js = strings.Replace(js, `, "x-removed": 0`, ``, 1)
		dev, err := schema.DecodeJSON([]byte(js))
		if err != nil {
			t.Fatalf("%s: %v", c.edit, err)
		}
		err = check(sub, dev)
		want := c.want
		if c.edit == `"psid": 2,` {
			want = "psid does not fit in psid-length 6"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without %s: %v, want %q", c.edit, err, want)
		}
	}
}

// check is what NETCONF <validate> does with an adapter: Prepare the
// changes from an empty configuration, then Abort.
func check(s *LwaftrSubsystem, cfg *gen.Device) error {
	cs := schema.NewChangeSet(&gen.Device{}, cfg, s.Owns())
	if err := s.Prepare(cs); err != nil {
		return err
	}
	s.Abort(cs)
	return nil
}
