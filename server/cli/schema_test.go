package cli

import (
	"strings"
	"testing"

	"github.com/openconfig/goyang/pkg/yang"
)

// throwaway builds a small schema tree the way goyang holds one: nothing
// in it is known to the CLI's code.
func throwaway() *yang.Entry {
	root := &yang.Entry{Name: "device", Kind: yang.DirectoryEntry, Dir: map[string]*yang.Entry{}}
	widget := &yang.Entry{Name: "widget", Kind: yang.DirectoryEntry, Parent: root, Dir: map[string]*yang.Entry{},
		Description: "Widgets of the throwaway module."}
	root.Dir["widget"] = widget
	list := &yang.Entry{Name: "gizmo", Kind: yang.DirectoryEntry, Parent: widget, Dir: map[string]*yang.Entry{},
		Key: "id", ListAttr: &yang.ListAttr{}, Description: "One gizmo."}
	widget.Dir["gizmo"] = list
	list.Dir["id"] = &yang.Entry{Name: "id", Kind: yang.LeafEntry, Parent: list, Type: &yang.YangType{Name: "string", Kind: yang.Ystring}}
	rng, _ := yang.ParseRangesInt("1..42")
	list.Dir["sprockets"] = &yang.Entry{Name: "sprockets", Kind: yang.LeafEntry, Parent: list, Units: "pieces",
		Description: "How many sprockets the gizmo turns.",
		Type:        &yang.YangType{Name: "uint8", Kind: yang.Yuint8, Range: rng}}
	list.Dir["colour"] = &yang.Entry{Name: "colour", Kind: yang.LeafEntry, Parent: list,
		Type: &yang.YangType{Name: "enumeration", Kind: yang.Yenum, Enum: enum("red", "green")}}
	return root
}

func enum(names ...string) *yang.EnumType {
	e := yang.NewEnumType()
	for _, n := range names {
		e.Set(n, int64(len(e.Names())))
	}
	return e
}

func toks(t *testing.T, s string) []token {
	t.Helper()
	out, err := tokenize(s, false)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestThrowawaySchemaIsSettableAndCompletable proves that commands,
// completion and help come from the schema: a tree the CLI has never seen
// is settable (the path and value it parses), completable and explained.
func TestThrowawaySchemaIsSettableAndCompletable(t *testing.T) {
	root := throwaway()
	p, err := parsePath(root, nil, toks(t, "wid giz g1 sprockets 7"), pathMode{value: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.at != atLeaf || p.entry.Name != "sprockets" || p.value.text != "7" || p.elems[1].Key["id"] != "g1" {
		t.Fatalf("parsed %+v", p)
	}
	if m := p.missing(pathMode{value: true}); m != "" {
		t.Fatal(m)
	}
	// Out of range: the range comes from the schema.
	_, err = parsePath(root, nil, toks(t, "widget gizmo g1 sprockets 43"), pathMode{value: true})
	if err == nil || !strings.Contains(err.msg, "1..42") || err.pos != len("widget gizmo g1 sprockets ") {
		t.Fatalf("range error: %+v", err)
	}
	// Unknown word: the closest valid one.
	_, err = parsePath(root, nil, toks(t, "widget gizmo g1 sprokets 4"), pathMode{value: true})
	if err == nil || !strings.Contains(err.msg, `"sprockets"`) {
		t.Fatalf("typo error: %+v", err)
	}
	// Completion of names, enum values, and help with type, range and units.
	c := pathCands(root, nil, toks(t, "widget gizmo g1"), pathMode{value: true}, nil)
	var words []string
	for _, k := range c {
		words = append(words, k.word)
	}
	if got := strings.Join(words, " "); got != "colour sprockets <[Enter]>" {
		t.Fatalf("completions %q", got)
	}
	for _, k := range c {
		if k.word == "sprockets" && (!strings.Contains(k.help, "range 1..42") || !strings.Contains(k.help, "units pieces") || !strings.Contains(k.help, "How many sprockets")) {
			t.Fatalf("help %q", k.help)
		}
	}
	c = pathCands(root, nil, toks(t, "widget gizmo g1 colour"), pathMode{value: true}, nil)
	if c[0].word != "green" || c[1].word != "red" {
		t.Fatalf("enum completions %+v", c)
	}
	// A leaf added to the schema is at once a command word.
	root.Dir["widget"].Dir["gizmo"].Dir["torque"] = &yang.Entry{Name: "torque", Kind: yang.LeafEntry, Parent: root.Dir["widget"].Dir["gizmo"],
		Type: &yang.YangType{Name: "string", Kind: yang.Ystring}}
	childCache.Clear()
	if _, err := parsePath(root, nil, toks(t, "widget gizmo g1 torque high"), pathMode{value: true}); err != nil {
		t.Fatalf("new leaf: %v", err)
	}
}

type sinkFunc func(string) error

func (f sinkFunc) line(s string) error { return f(s) }
