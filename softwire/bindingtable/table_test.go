package bindingtable

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestPSID(t *testing.T) {
	// RFC 7597 appendix B example: a=6 (offset), k=8; port 0x1234 =
	// 000100 10001101 00 → psid 0x8d.
	if got := (PortSet{Offset: 6, Length: 8}).PSID(0x1234); got != 0x8d {
		t.Fatalf("psid = %#x, want 0x8d", got)
	}
	if got := (PortSet{Length: 16}).PSID(80); got != 80 {
		t.Fatalf("psid-length 16: %d", got)
	}
	if got := (PortSet{Length: 6}).PSID(0x1000); got != 4 {
		t.Fatalf("psid-length 6: %d", got)
	}
	if got := (PortSet{}).PSID(1234); got != 0 {
		t.Fatalf("psid-length 0: %d", got)
	}
}

func TestAddErrors(t *testing.T) {
	tb := New(0)
	if err := tb.Add(Softwire{IPv4: 1, PSID: 1, PortSet: PortSet{Offset: 10, Length: 7}, BR: [16]byte{1}}); err == nil || !strings.Contains(err.Error(), "exceeds 16") {
		t.Fatal(err)
	}
	if err := tb.Add(Softwire{IPv4: 1, PSID: 4, PortSet: PortSet{Length: 2}, BR: [16]byte{1}}); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Fatal(err)
	}
	if err := tb.Add(Softwire{IPv4: 1, PSID: 1, PortSet: PortSet{Length: 2}, BR: [16]byte{1}}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Add(Softwire{IPv4: 1, PSID: 2, PortSet: PortSet{Length: 3}, BR: [16]byte{1}}); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Fatal(err)
	}
	if tb.Len() != 1 {
		t.Fatalf("failed adds changed the table: %d", tb.Len())
	}
}

// TestModel applies random adds and removes to the table and to a map and
// checks every lookup agrees, across growth and backward-shift deletion.
func TestModel(t *testing.T) {
	type key struct {
		ip   uint32
		psid uint16
	}
	r := rand.New(rand.NewPCG(1, 2))
	tb := New(0)
	model := map[key][16]byte{}
	for step := 0; step < 200000; step++ {
		// Addresses spread over many /16s (HasAddress counts by /16).
		k := key{uint32(r.IntN(500)) * 40009, uint16(r.IntN(64))}
		if r.IntN(3) == 0 {
			_, had := model[k]
			if tb.Remove(k.ip, k.psid) != had {
				t.Fatalf("step %d: remove %v disagrees", step, k)
			}
			delete(model, k)
		} else {
			var b4 [16]byte
			b4[0], b4[1] = byte(step), byte(step>>8)
			if err := tb.Add(Softwire{IPv4: k.ip, PSID: k.psid, PortSet: PortSet{Offset: 4, Length: 6}, B4: b4, BR: [16]byte{byte(k.ip % 3), 1}}); err != nil {
				t.Fatal(err)
			}
			model[k] = b4
		}
		if step%1000 == 0 {
			for n := uint32(0); n < 500; n += 7 {
				ip := n * 40009
				has := false
				for psid := uint16(0); psid < 64; psid++ {
					_, ok := model[key{ip, psid}]
					has = has || ok
				}
				if tb.HasAddress(ip) != has || tb.HasAddress(ip+1) {
					t.Fatalf("step %d: HasAddress(%d) = %v, want %v", step, ip, tb.HasAddress(ip), has)
				}
				for psid := uint16(0); psid < 64; psid++ {
					want, ok := model[key{ip, psid}]
					port := psid << 6 // offset 4: bits 4..9 hold the psid
					b4, br, found := tb.Lookup(ip, port)
					if found != ok || (ok && (*b4 != want || br[0] != byte(ip%3))) {
						t.Fatalf("step %d: lookup %d/%d = %v, want %v", step, ip, psid, found, ok)
					}
				}
			}
		}
	}
	if tb.Len() != len(model) {
		t.Fatalf("len %d, model %d", tb.Len(), len(model))
	}
}

// TestGrowthIsIncremental: a growth moves a bounded number of entries per
// change, and entries are found in whichever array holds them meanwhile.
func TestGrowthIsIncremental(t *testing.T) {
	tb := New(0)
	add := func(i int) {
		if err := tb.Add(Softwire{IPv4: uint32(i), PortSet: PortSet{}, B4: [16]byte{byte(i), byte(i >> 8)}, BR: [16]byte{1}}); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	for ; len(tb.old) < 1024; i++ {
		add(i)
	}
	if tb.next > migrateStep {
		t.Fatalf("growth moved %d slots at once, want at most %d", tb.next, migrateStep)
	}
	for k := 0; k < i; k++ {
		if b4, _, ok := tb.Lookup(uint32(k), 1234); !ok || b4[0] != byte(k) {
			t.Fatalf("entry %d lost during growth", k)
		}
	}
	// Replace and remove entries that have not moved yet.
	add(i - 1)
	if !tb.Remove(1, 0) || tb.Remove(1, 0) {
		t.Fatal("remove during growth")
	}
	for tb.old != nil {
		tb.Migrate(100)
	}
	if _, _, ok := tb.Lookup(1, 0); ok || tb.Len() != i-1 {
		t.Fatalf("after growth: len %d, want %d", tb.Len(), i-1)
	}
	for k := 2; k < i; k++ {
		if _, _, ok := tb.Lookup(uint32(k), 0); !ok {
			t.Fatalf("entry %d lost after growth", k)
		}
	}
}
