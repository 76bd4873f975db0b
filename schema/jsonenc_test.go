package schema

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

// Our RFC 7951 encoder and ygot's generic one say the same thing about the
// sample configuration that uses every module, state leaves included.
func TestEncodeJSONMatchesYgot(t *testing.T) {
	src, err := os.ReadFile("../yang/testdata/full-config.json")
	if err != nil {
		t.Fatal(err)
	}
	root, err := DecodeJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	// State leaves of every width: uint64 counters, enums, strings.
	st := root.GetOrCreateBfd().GetOrCreateSingleHop().GetOrCreateSession("eth0", "192.0.2.1").GetOrCreateState()
	st.LocalState = gen.WirebeatBfd_BfdState_up
	st.GetOrCreateCounters().RxPackets = ygot.Uint64(1 << 40)
	st.LastUpTime = ygot.String("2026-11-23T10:00:00Z")
	root.GetOrCreateSystem().Hostname = ygot.String("quote\"back\\slash\tcontrol\x01")

	ours, err := EncodeJSON(root)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := ygot.EmitJSON(root, &ygot.EmitJSONConfig{
		Format: ygot.RFC7951, SkipValidation: true,
		RFC7951Config: &ygot.RFC7951JSONConfig{AppendModuleName: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(ours, &a); err != nil {
		t.Fatalf("our output is not JSON: %v\n%s", err, ours)
	}
	if err := json.Unmarshal([]byte(theirs), &b); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(b, a); d != "" {
		t.Errorf("encoders disagree (-ygot +ours):\n%s", d)
	}
	// And it reads back into the same tree.
	back, err := DecodeJSON(ours)
	if err != nil {
		t.Fatalf("decode our output: %v", err)
	}
	again, _ := EncodeJSON(back)
	if string(again) != string(ours) {
		t.Error("encode(decode(encode(x))) differs from encode(x)")
	}
}

func TestEncodeJSONEmptyTree(t *testing.T) {
	out, err := EncodeJSON(&gen.Device{Bfd: &gen.WirebeatBfd_Bfd{}})
	if err != nil || string(out) != "{}\n" {
		t.Errorf("empty tree = %q, %v", out, err)
	}
}
