package server

import (
	"fmt"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// addBindings adds n lwAFTR softwires, 64 port sets per IPv4 address.
func addBindings(root *gen.Device, n int) {
	bt := root.GetOrCreateSoftwire().GetOrCreateLwaftr().GetOrCreateBindingTable()
	for i := 0; i < n; i++ {
		addr := i / 64
		v4 := fmt.Sprintf("10.%d.%d.%d", addr>>16&255, addr>>8&255, addr&255)
		sw := bt.GetOrCreateSoftwire(v4, uint16(i%64))
		sw.B4Ipv6 = ygot.String(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff))
		sw.BrAddress = ygot.String("2001:db8::1")
		sw.GetOrCreatePortSet().PsidLength = ygot.Uint8(6)
	}
}

// serverWithBindings starts a core whose running configuration holds n
// bindings; it is closed when the benchmark ends.
func serverWithBindings(b *testing.B, n int) *Server {
	b.Helper()
	s, err := New(Options{DataDir: b.TempDir(), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if n > 0 {
		if err := s.Edit(admin, Running, func(root *gen.Device) error {
			addBindings(root, n)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// One commit to running that creates 100,000 binding-table entries: the
// core's share of a NETCONF edit-config of 100k entries (parsing excluded).
func BenchmarkCommit100kBindings(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := New(Options{DataDir: b.TempDir(), Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.Edit(admin, Running, func(root *gen.Device) error {
			addBindings(root, 100_000)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

// A one-leaf commit while 100,000 bindings are configured: the cost of the
// pipeline that does not depend on the size of the edit.
func BenchmarkSmallCommitWith100kBindings(b *testing.B) {
	s := serverWithBindings(b, 100_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Edit(admin, Running, setProfile("p", uint8(i%200+1))); err != nil {
			b.Fatal(err)
		}
	}
}

// A one-leaf commit on a small configuration: round trips per second the
// core allows a front end.
func BenchmarkSmallCommit(b *testing.B) {
	s := serverWithBindings(b, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Edit(admin, Running, setProfile("p", uint8(i%200+1))); err != nil {
			b.Fatal(err)
		}
	}
}

// A one-leaf commit through a transaction while 100,000 bindings are
// configured: what a NETCONF or gNMI edit of one leaf costs the core.
func BenchmarkSmallTxCommitWith100kBindings(b *testing.B) {
	s := serverWithBindings(b, 100_000)
	path := &gpb.Path{Elem: []*gpb.PathElem{{Name: "softwire"}, {Name: "lwaftr"}, {Name: "binding-table"},
		{Name: "softwire", Key: map[string]string{"ipv4": "10.0.0.1", "psid": "5"}}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.EditTx(admin, Running, func(tx *schema.Tx) error {
			n, err := tx.Get(path, false)
			if err != nil {
				return err
			}
			n.(*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire).B4Ipv6 = ygot.String(fmt.Sprintf("2001:db8::%x", i))
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}
