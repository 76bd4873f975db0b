package gnmi

import (
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// fuzzTree is a small tree to match fuzzed paths against.
func fuzzTree() *gen.Device {
	root := &gen.Device{}
	root.GetOrCreateSystem().Hostname = ygot.String("wb")
	users := root.GetOrCreateSystem().GetOrCreateAaa().GetOrCreateUsers()
	for _, n := range []string{"admin", "view"} {
		users.GetOrCreateUser(n).Password = ygot.String("$2a$10$x")
	}
	root.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("p").DetectionMultiplier = ygot.Uint8(3)
	return root
}

func pathSeed(names ...string) []byte {
	p := &gpb.Path{}
	for _, n := range names {
		e := &gpb.PathElem{Name: n}
		if n == "user" {
			e.Key = map[string]string{"name": "admin"}
		}
		p.Elem = append(p.Elem, e)
	}
	b, _ := proto.Marshal(p)
	return b
}

// FuzzPath decodes a gNMI path (prefix and path, as protobuf) from the
// wire and takes it through everything a request path goes through:
// the bounds, the join, the schema check, canonical keys and matching. Nothing panics,
// every error is a status, and no error repeats much of the input.
func FuzzPath(f *testing.F) {
	f.Add(pathSeed("system", "hostname"), []byte(nil))
	f.Add(pathSeed("...", "name"), pathSeed("system"))
	f.Add(pathSeed("...", "*", "...", "*", "...", "name"), []byte(nil))
	f.Add(pathSeed("system", "aaa", "users", "user", "password"), []byte(nil))
	f.Add(pathSeed("bfd", "profiles", "profile", "*"), pathSeed("..."))
	f.Add([]byte{0x0a, 0x00}, []byte{0xff})
	lim := server.Limits{}.WithDefaults()
	tree := fuzzTree()
	f.Fuzz(func(t *testing.T, pathBytes, prefixBytes []byte) {
		p, prefix := &gpb.Path{}, &gpb.Path{}
		if proto.Unmarshal(pathBytes, p) != nil || proto.Unmarshal(prefixBytes, prefix) != nil {
			return
		}
		if len(prefixBytes) == 0 {
			prefix = nil
		}
		limit := 2*lim.MaxPathBytes + 1024
		check := func(what string, err error) bool {
			if err == nil {
				return true
			}
			st, ok := status.FromError(err)
			if !ok {
				t.Fatalf("%s: not a status: %v", what, err)
			}
			if len(st.Message()) > limit {
				t.Fatalf("%s: error of %d bytes", what, len(st.Message()))
			}
			return false
		}
		if !check("bounds", pathBounds(lim, prefix, p)) {
			return
		}
		elems, err := requestPath(prefix, p)
		if !check("path", err) {
			return
		}
		matches, err := schema.MatchPath(tree, elems)
		if err != nil {
			t.Fatalf("match: %v", err)
		}
		seen := map[string]bool{}
		for _, m := range matches {
			k := schema.PathString(&gpb.Path{Elem: m.Path})
			if seen[k] {
				t.Fatalf("%s matched twice", k)
			}
			seen[k] = true
		}
	})
}

// FuzzJSONValue feeds arbitrary bytes as the JSON value of a Set to the
// decoders of structured and scalar values, and as a configuration to
// the RFC 7951 decoder: errors, never panics.
func FuzzJSONValue(f *testing.F) {
	for _, s := range []string{
		`{"hostname":"wb"}`, `{"wirebeat-system:hostname":"wb"}`, `"wb"`, `[1,2,3]`, `3`, `{"aaa":{"users":{"user":[{"name":"a","role":"admin"}]}}}`,
		`{"wirebeat-system:system":{"hostname":"x"}}`, `{"wirebeat-bfd:bfd":{"profiles":{"profile":[{"name":"p","detection-multiplier":300}]}}}`, `{`, `null`, `1e999`,
	} {
		f.Add([]byte(s))
	}
	path := &gpb.Path{Elem: []*gpb.PathElem{{Name: "system"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tv := range []*gpb.TypedValue{
			{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: data}},
			{Value: &gpb.TypedValue_JsonVal{JsonVal: data}},
		} {
			_ = decodeStruct(tv, &gen.WirebeatSystem_System{}, path)
			_, _ = scalarTexts(tv, path)
		}
		_, _ = schema.DecodeJSON(data)
	})
}
