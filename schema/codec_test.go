package schema

import (
	"reflect"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
)

// Keys and leaves share one codec: the same text is accepted or refused
// whichever way it reaches the tree.
func TestKeyAndLeafTextSameRules(t *testing.T) {
	leaf := &yang.Entry{Name: "flag", Type: &yang.YangType{Name: "boolean", Kind: yang.Ybool}}
	for _, c := range []struct {
		text string
		ok   bool
	}{{"true", true}, {"false", true}, {"1", false}, {"t", false}, {"TRUE", false}} {
		_, kerr := parseKey(leaf, reflect.TypeOf(false), c.text, nil)
		_, lerr := parseScalar(leaf, reflect.TypeOf(false), c.text)
		if (kerr == nil) != c.ok || (lerr == nil) != c.ok {
			t.Errorf("%q: key error %v, leaf error %v; want accepted=%v for both", c.text, kerr, lerr, c.ok)
		}
	}
	u8 := &yang.Entry{Name: "psid", Type: &yang.YangType{Name: "uint16", Kind: yang.Yuint16}}
	if v, err := parseKey(u8, reflect.TypeOf(uint16(0)), " 7 ", nil); err != nil || v.Uint() != 7 {
		t.Errorf("key \" 7 \" = %v, %v", v, err)
	}
}

func TestPathsOverlap(t *testing.T) {
	pe := func(name string, kv ...string) *gpb.PathElem {
		e := &gpb.PathElem{Name: name}
		if len(kv) > 0 {
			e.Key = map[string]string{kv[0]: kv[1]}
		}
		return e
	}
	sess := []*gpb.PathElem{pe("bfd"), pe("single-hop"), pe("session", "interface", "eth0")}
	for _, c := range []struct {
		p    []*gpb.PathElem
		want bool
	}{
		{[]*gpb.PathElem{pe("bfd")}, true},                                      // ancestor
		{append(append([]*gpb.PathElem{}, sess...), pe("state")), true},         // descendant
		{[]*gpb.PathElem{pe("wirebeat-bfd:bfd"), pe("*"), pe("session")}, true}, // prefix, wildcard, absent key
		{[]*gpb.PathElem{pe("bfd"), pe("single-hop"), pe("session", "interface", "eth1")}, false},
		{[]*gpb.PathElem{pe("bfd"), pe("single-hop"), pe("session", "interface", "*")}, true},
		{[]*gpb.PathElem{pe("..."), pe("counters")}, true},
		{[]*gpb.PathElem{pe("system")}, false},
	} {
		if got := PathsOverlap(c.p, sess); got != c.want {
			t.Errorf("PathsOverlap(%v) = %v, want %v", c.p, got, c.want)
		}
		if got := PathsOverlap(sess, c.p); got != c.want {
			t.Errorf("PathsOverlap reversed (%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if !Covers(nil, sess...) {
		t.Error("no paths must cover everything")
	}
}
