package server

import (
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

func p(elems ...*gpb.PathElem) *gpb.Path { return &gpb.Path{Elem: elems} }
func e(name string, kv ...string) *gpb.PathElem {
	el := &gpb.PathElem{Name: name}
	if len(kv) > 0 {
		el.Key = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			el.Key[kv[i]] = kv[i+1]
		}
	}
	return el
}

// A commit through a transaction is validated, applied and persisted like
// any other; only its cost differs.
func TestEditTxCommits(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	err := s.EditTx(admin, Running, func(tx *schema.Tx) error {
		n, err := tx.Get(p(e("bfd"), e("profiles"), e("profile", "name", "tx")), true)
		if err != nil {
			return err
		}
		n.(*gen.WirebeatBfd_Bfd_Profiles_Profile).DetectionMultiplier = ygot.Uint8(0)
		return nil
	})
	if e := schema.AsError(err); e == nil || schema.PathString(e.Path) != "/bfd/profiles/profile[name=tx]/detection-multiplier" {
		t.Fatalf("invalid edit through a transaction = %v", err)
	}
	if s.Running().GetBfd().GetProfiles().GetProfile("tx") != nil {
		t.Fatal("refused transaction changed running")
	}
	if err := s.EditTx(admin, Running, func(tx *schema.Tx) error {
		n, err := tx.Get(p(e("bfd"), e("profiles"), e("profile", "name", "tx")), true)
		if err != nil {
			return err
		}
		n.(*gen.WirebeatBfd_Bfd_Profiles_Profile).DetectionMultiplier = ygot.Uint8(4)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := s.Running().GetBfd().GetProfiles().GetProfile("tx").GetDetectionMultiplier(); got != 4 {
		t.Errorf("multiplier = %d", got)
	}
}
