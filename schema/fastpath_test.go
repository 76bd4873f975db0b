package schema

import (
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
)

// The typed fast paths (member names looked up in the bytes, leaves of
// plain Go types set directly, keyed lists filled through key plans into a
// map made to size, the diff of a list that is new as a whole) must give
// what the generic code they shortcut gives: the same tree or the same
// error for the same input.

// withGeneric runs fn with the fast paths off.
func withGeneric(fn func()) {
	genericOnly = true
	defer func() { genericOnly = false }()
	fn()
}

// randomConfigJSON writes a configuration with random bindings and BFD
// profiles, some of them with values the schema refuses or the fast paths
// leave to the generic code (quoted or signed numbers, exponents, values
// out of range, escapes, module prefixes).
func randomConfigJSON(rng *rand.Rand) string {
	var b strings.Builder
	pick := func(opts ...string) string { return opts[rng.Intn(len(opts))] }
	// One configuration in four carries values that are wrong or that
	// the fast paths leave to the generic code.
	odd := rng.Intn(4) == 0
	rare := func() bool { return odd && rng.Intn(40) == 0 }
	num := func(max int) string {
		if rare() {
			return pick(fmt.Sprintf(`"%d"`, rng.Intn(max)), "-1", "1e1", "65536", "99999999999999999999", "007", "1.0")
		}
		return pick(fmt.Sprint(rng.Intn(max)), " 0", fmt.Sprint(max-1))
	}
	b.WriteString(`{"wirebeat-softwire:softwire":{"lwaftr":{"binding-table":{"softwire":[`)
	n := rng.Intn(300)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		psid := fmt.Sprint(i % 64)
		if rare() {
			psid = num(64)
		}
		fmt.Fprintf(&b, `{"ipv4":"10.%d.%d.%d","psid":%s`, rng.Intn(4), i/64, rng.Intn(256), psid)
		if !rare() {
			fmt.Fprintf(&b, `,%s:"2001:db8::%x"`, pick(`"b4-ipv6"`, `"wirebeat-softwire:b4-ipv6"`, `"b4\u002dipv6"`), rng.Intn(1<<16))
		}
		b.WriteString(`,"br-address":"2001:db8::1"`)
		if rng.Intn(4) > 0 {
			fmt.Fprintf(&b, `,"port-set":{"psid-length":%s,"psid-offset":%s}`, num(17), num(17))
		}
		if rare() {
			b.WriteString(`,"nonsense":1`)
		}
		b.WriteString("}")
	}
	b.WriteString(`]}}},"wirebeat-bfd:bfd":{"profiles":{"profile":[`)
	for i, m := 0, rng.Intn(20); i < m; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		name := fmt.Sprint(i)
		if rare() {
			name = "0"
		}
		passive := pick("true", "false")
		if rare() {
			passive = "1"
		}
		fmt.Fprintf(&b, `{"name":"p%s","detection-multiplier":%s,"passive":%s}`, name, num(256), passive)
	}
	b.WriteString(`]}}}`)
	return b.String()
}

// decodeBoth decodes data with the fast paths on and off and fails the
// test unless both give the same tree or the same error.
func decodeBoth(t *testing.T, data []byte) *gen.Device {
	t.Helper()
	fast, ferr := DecodeJSON(data)
	var slow *gen.Device
	var serr error
	withGeneric(func() { slow, serr = DecodeJSON(data) })
	if fmt.Sprint(ferr) != fmt.Sprint(serr) {
		t.Fatalf("%.200s:\nfast path: %v\ngeneric:   %v", data, ferr, serr)
	}
	if ferr != nil {
		return nil
	}
	if !reflect.DeepEqual(fast, slow) {
		a, _ := EncodeJSON(fast)
		b, _ := EncodeJSON(slow)
		t.Fatalf("%.200s:\nfast path decoded\n%.2000s\ngeneric\n%.2000s", data, a, b)
	}
	return fast
}

func TestDecodeFastPathMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewSource(int64(os.Getpid())))
	if src, err := os.ReadFile("../yang/testdata/full-config.json"); err == nil {
		decodeBoth(t, src)
	}
	ok := 0
	for i := 0; i < 200; i++ {
		data := []byte(randomConfigJSON(rng))
		if decodeBoth(t, data) != nil {
			ok++
		}
		// And damaged copies: a byte changed, removed or doubled.
		for j := 0; j < 3 && len(data) > 0; j++ {
			d := append([]byte(nil), data...)
			p := rng.Intn(len(d))
			switch rng.Intn(3) {
			case 0:
				d[p] = "{}[]\",:0a \\-"[rng.Intn(12)]
			case 1:
				d = append(d[:p], d[p+1:]...)
			default:
				d = append(d[:p+1], d[p:]...)
			}
			decodeBoth(t, d)
		}
	}
	if ok == 0 {
		t.Fatal("no random configuration was valid: the generator tests errors only")
	}
}

// The diff of a list that is new as a whole (a boot) reuses one key value
// and renders the keys once per list; it must list what the entry by entry
// comparison lists.
func TestChangesFromEmptyFastPathMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewSource(int64(os.Getpid())))
	for i := 0; i < 50; i++ {
		var root *gen.Device
		for try := 0; root == nil; try++ {
			if try == 100 {
				t.Fatal("no random configuration is valid")
			}
			root, _ = DecodeJSON([]byte(randomConfigJSON(rng)))
		}
		empty := &gen.Device{}
		fast := changeTexts(Changes(empty, root, nil))
		var slow []string
		withGeneric(func() { slow = changeTexts(Changes(empty, root, nil)) })
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast path lists %d changes, generic %d:\n%v\n%v", len(fast), len(slow), fast, slow)
		}
	}
}

func changeTexts(cs []Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s %s %#v %#v", c.Op, PathString(c.Path), c.Old, c.New)
	}
	sort.Strings(out)
	return out
}

// The encoder's leaf fast path and the one-buffer sort keys write what the
// generic code writes.
func TestEncodeFastPathMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewSource(int64(os.Getpid())))
	trees := []*gen.Device{}
	if src, err := os.ReadFile("../yang/testdata/full-config.json"); err == nil {
		if root, err := DecodeJSON(src); err == nil {
			trees = append(trees, root)
		}
	}
	for len(trees) < 50 {
		if root, err := DecodeJSON([]byte(randomConfigJSON(rng))); err == nil {
			trees = append(trees, root)
		}
	}
	for _, root := range trees {
		fast, ferr := EncodeJSON(root)
		var slow []byte
		var serr error
		withGeneric(func() { slow, serr = EncodeJSON(root) })
		if ferr != nil || serr != nil || string(fast) != string(slow) {
			t.Fatalf("fast path (%v):\n%.2000s\ngeneric (%v):\n%.2000s", ferr, fast, serr, slow)
		}
	}
}

// SetLeafText's fast path for plain Go types sets what the generic text
// codec sets, or leaves the text to it.
func TestSetLeafTextFastPathMatchesGeneric(t *testing.T) {
	texts := []string{"", "0", "7", "007", " 7", "7 ", "-1", "-0", "+1", "255", "256", "65535", "65536",
		"127", "128", "-128", "-129", "4294967295", "4294967296", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
		"99999999999999999999", "1e3", "0x10", "true", "2001:DB8::1", "h\u00e9"}
	fields := []any{new(*string), new(*uint8), new(*uint16), new(*uint32), new(*uint64),
		new(*int8), new(*int16), new(*int32), new(*int64), new(*bool)}
	leaf := &yang.Entry{Name: "x", Type: &yang.YangType{Name: "t"}}
	for _, f := range fields {
		for _, text := range texts {
			fast := reflect.New(reflect.TypeOf(f).Elem()).Elem()
			slow := reflect.New(reflect.TypeOf(f).Elem()).Elem()
			ferr := SetLeafText(leaf, fast, text)
			var serr error
			withGeneric(func() { serr = SetLeafText(leaf, slow, text) })
			if fmt.Sprint(ferr) != fmt.Sprint(serr) || !reflect.DeepEqual(fast.Interface(), slow.Interface()) {
				t.Errorf("%s from %q: fast path %v (%v), generic %v (%v)", fast.Type(), text,
					LeafTexts(fast), ferr, LeafTexts(slow), serr)
			}
		}
	}
}

// A large list is encoded in chunks by several goroutines: the text and
// the cache of entry texts are those of the sequential encoding.
func TestParallelEncodeMatchesSequential(t *testing.T) {
	defer func(e, c int) { parallelEntries, parallelChunk = e, c }(parallelEntries, parallelChunk)
	parallelEntries, parallelChunk = 16, 7
	rng := rand.New(rand.NewSource(int64(os.Getpid())))
	for n := 0; n < 30; {
		root, err := DecodeJSON([]byte(randomConfigJSON(rng)))
		if err != nil {
			continue
		}
		n++
		var seq []byte
		withGeneric(func() { seq, _ = EncodeJSON(root) })
		par, err := EncodeJSON(root)
		if err != nil || string(par) != string(seq) {
			t.Fatalf("parallel (%v):\n%.3000s\nsequential:\n%.3000s", err, par, seq)
		}
		// Through the cache: once to fill it, once from it.
		var c JSONCache
		for round := 0; round < 2; round++ {
			out, err := c.Encode(root)
			if err != nil || string(out) != string(seq) {
				t.Fatalf("cached round %d (%v) differs", round, err)
			}
		}
		if len(c.entries) != len(root.GetSoftwire().GetLwaftr().GetBindingTable().Softwire)+len(root.GetBfd().GetProfiles().Profile) {
			t.Fatalf("cache holds %d entries", len(c.entries))
		}
	}
}

// mapKey's fast path for string and unsigned keys gives the key, or the
// error, the generic text codec gives.
func TestMapKeyFastPathMatchesGeneric(t *testing.T) {
	f := rootFields()
	sw := f.fields[f.byName["softwire"]].child
	lw := sw.fields[sw.byName["lwaftr"]].child
	bt := lw.fields[lw.byName["binding-table"]].child
	list := &bt.fields[bt.byName["softwire"]]
	keyType := reflect.TypeOf(gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire_Key{})
	for _, psid := range []string{"0", "63", "65535", "65536", "007", " 1", "-1", "+1", "", "x", "99999999999999999999"} {
		for _, ipv4 := range []string{"10.0.0.1", "", "not an address"} {
			e := &gpb.PathElem{Name: "softwire", Key: map[string]string{"ipv4": ipv4, "psid": psid}}
			fast, ferr := mapKey(list.schema, keyType, e, nil)
			var slow reflect.Value
			var serr error
			withGeneric(func() { slow, serr = mapKey(list.schema, keyType, e, nil) })
			if fmt.Sprint(ferr) != fmt.Sprint(serr) || (ferr == nil && fast.Interface() != slow.Interface()) {
				t.Errorf("%v: fast path %v (%v), generic %v (%v)", e.Key, fast, ferr, slow, serr)
			}
		}
	}
}
