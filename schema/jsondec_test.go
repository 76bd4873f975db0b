package schema

import (
	"os"
	"strings"
	"testing"

	"github.com/wirebeat/wirebeat/gen"
)

// Our decoder and ygot's read the sample configuration that uses every
// module into the same tree.
func TestDecodeJSONMatchesYgot(t *testing.T) {
	src, err := os.ReadFile("../yang/testdata/full-config.json")
	if err != nil {
		t.Fatal(err)
	}
	ours, err := DecodeJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	theirs := &gen.Device{}
	if err := gen.Unmarshal(src, theirs); err != nil {
		t.Fatal(err)
	}
	a, _ := EncodeJSON(ours)
	b, _ := EncodeJSON(theirs)
	if string(a) != string(b) {
		t.Fatalf("decoders disagree:\nours:\n%s\nygot:\n%s", a, b)
	}
	// What we write we read back.
	again, err := DecodeJSON(a)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := EncodeJSON(again); string(c) != string(a) {
		t.Fatal("encode/decode round trip changed the tree")
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"wirebeat-bfd:bfd":{"nonsense":1}}`, `no member "nonsense"`},
		{`{"wirebeat-system:bfd":{}}`, "defined by module"},
		{`{"wirebeat-bfd:bfd":{"profiles":{"profile":[{"name":"a"},{"name":"a"}]}}}`, "given twice"},
		{`{"wirebeat-bfd:bfd":{"profiles":{"profile":[{"name":"a","detection-multiplier":"x"}]}}}`, "detection-multiplier"},
		{`{"wirebeat-bfd:bfd":{"profiles":{"profile":[{"name":"a","detection-multiplier":300}]}}}`, "out of range"},
		{`{"wirebeat-bfd:bfd":{"profiles":{"profile":[{"name":"a","passive":1}]}}}`, "true or false"},
		{`{} x`, "after the top-level"},
		{`{"wirebeat-system:system":{"hostname":"a\q"}}`, "bad escape"},
		{`{"wirebeat-system:system":{"hostname":"a`, "unterminated"},
		{strings.Repeat(`{"wirebeat-system:system":`, 100), "no member"},
	} {
		_, err := DecodeJSON([]byte(c.in))
		if e := AsError(err); e == nil || e.Tag != TagInvalidValue || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60s: %v, want invalid-value with %q", c.in, err, c.want)
		}
	}
	d, err := DecodeJSON([]byte(` {"wirebeat-system:system":{"hostname":"h\u00e9\ud83d\ude00\n"}} `))
	if err != nil || d.GetSystem().GetHostname() != "h\u00e9\U0001F600\n" {
		t.Fatalf("escapes: %q, %v", d.GetSystem().GetHostname(), err)
	}
}

// The decoder reads configuration files and journal records, which are
// local, and JSON a client sends: whatever the bytes, it returns a tree or
// an error, never panics.
func FuzzDecodeJSON(f *testing.F) {
	if src, err := os.ReadFile("../yang/testdata/full-config.json"); err == nil {
		f.Add(src)
	}
	f.Add([]byte(`{"wirebeat-bfd:bfd":{"profiles":{"profile":[{"name":"a","detection-multiplier":3}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := decodeBoth(t, data) // the fast paths agree with the generic code
		if root != nil {
			if _, err := EncodeJSON(root); err != nil {
				t.Fatalf("decoded tree does not encode: %v", err)
			}
		}
	})
}

// Reading 100,000 bindings from RFC 7951 JSON, ours against ygot's
// unmarshaller, which it replaces.
func BenchmarkDecodeJSON100k(b *testing.B) {
	root := &gen.Device{}
	addBindings(root, 100_000)
	data, err := EncodeJSON(root)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("schema", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			if _, err := DecodeJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ygot", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			if err := gen.Unmarshal(data, &gen.Device{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
