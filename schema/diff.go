package schema

import (
	"reflect"
	"slices"
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
)

// Operations of a change, as RFC 6470 reports them.
const (
	OpCreate  = "create"
	OpDelete  = "delete"
	OpReplace = "replace"
)

// Change is one configuration node that differs between two trees: a list
// entry that appears or disappears as a whole, or a leaf (or leaf-list)
// that appears, disappears or takes another value. Containers are never
// reported themselves, only what changed inside them, so a subsystem that
// owns /softwire/lwaftr sees the binding entries of a deleted /softwire one
// by one.
type Change struct {
	Op   string    // OpCreate, OpDelete or OpReplace
	Path *gpb.Path // keyed path of the node
	// Old and New are the node in the old and the new tree, nil where it
	// is absent: a pointer to the generated struct of a list entry, or the
	// field value of a leaf (*string, *uint32, an enumeration, []string
	// for a leaf-list). Both trees are committed or about to be: read only.
	Old, New any
}

// Changes lists what differs between the configuration trees old and new
// (state nodes are ignored), in schema order; entries of a list come in no
// particular order. Subtrees shared by both trees are skipped by pointer.
//
// touched, when not nil and made relative to old (by the transactions that
// produced new from old), names the list entries the transactions set or
// removed; lists it covers are compared at those keys only, so that a
// one-leaf edit next to a million bindings costs one comparison, not a
// scan of the table. Without it every entry of a list whose map differs
// is compared.
func Changes(old, new *gen.Device, touched *Touched) []Change {
	d := differ{}
	if touched != nil && touched.base == old {
		d.touched = touched
	}
	d.structs(rootSchema(), reflect.ValueOf(old), reflect.ValueOf(new), nil)
	return d.out
}

type differ struct {
	out     []Change
	touched *Touched
	paths   pathArena
}

// pathArena hands out the paths of changes from blocks: the change list of
// a boot or of a 100,000-entry edit then makes a few hundred allocations
// for its paths instead of three per change. A block stays alive while any
// change made from it is kept.
type pathArena struct {
	paths []gpb.Path
	elems []gpb.PathElem
	ptrs  []*gpb.PathElem
}

const arenaBlock = 1024

func (a *pathArena) path(elems []*gpb.PathElem) *gpb.Path {
	if len(a.paths) == 0 {
		a.paths = make([]gpb.Path, arenaBlock)
	}
	p := &a.paths[0]
	a.paths = a.paths[1:]
	p.Elem = elems
	return p
}

// entryPath returns base followed by one new element name[keys], in a
// slice of its own.
func (a *pathArena) entryPath(base []*gpb.PathElem, name string, keys map[string]string) []*gpb.PathElem {
	if len(a.elems) == 0 {
		a.elems = make([]gpb.PathElem, arenaBlock)
	}
	e := &a.elems[0]
	a.elems = a.elems[1:]
	e.Name, e.Key = name, keys
	n := len(base) + 1
	if len(a.ptrs) < n {
		a.ptrs = make([]*gpb.PathElem, max(arenaBlock, n))
	}
	out := a.ptrs[:n:n]
	a.ptrs = a.ptrs[n:]
	copy(out, base)
	out[n-1] = e
	return out
}

func (d *differ) add(path []*gpb.PathElem, op string, a, b reflect.Value) {
	c := Change{Op: op, Path: d.paths.path(path)}
	if a.IsValid() && !isNil(a) {
		c.Old = a.Interface()
	}
	if b.IsValid() && !isNil(b) {
		c.New = b.Interface()
	}
	d.out = append(d.out, c)
}

// structs compares two pointers to the same generated struct type, either
// of which may be nil.
func (d *differ) structs(schema *yang.Entry, a, b reflect.Value, path []*gpb.PathElem) {
	if !isNil(a) && !isNil(b) && a.Pointer() == b.Pointer() {
		return // shared by a transaction: unchanged
	}
	var st reflect.Type
	switch {
	case !isNil(a):
		st = a.Elem().Type()
	case !isNil(b):
		st = b.Elem().Type()
	default:
		return
	}
	for _, f := range fieldsOf(schema, st).fields {
		if !f.config {
			continue
		}
		var fa, fb reflect.Value
		if !isNil(a) {
			fa = a.Elem().Field(f.index)
		} else {
			fa = reflect.Zero(st.Field(f.index).Type)
		}
		if !isNil(b) {
			fb = b.Elem().Field(f.index)
		} else {
			fb = reflect.Zero(st.Field(f.index).Type)
		}
		p := append(path[:len(path):len(path)], f.elem)
		switch f.kind {
		case FieldListMap:
			d.lists(f.schema, fa, fb, p)
		case FieldContainer:
			d.structs(f.schema, fa, fb, p)
		case FieldListSlice:
			if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
				d.add(p, OpReplace, fa, fb)
			}
		default:
			d.leaves(fa, fb, p)
		}
	}
}

func (d *differ) lists(schema *yang.Entry, a, b reflect.Value, path []*gpb.PathElem) {
	if !isNil(a) && !isNil(b) && a.Pointer() == b.Pointer() {
		return
	}
	name := path[len(path)-1].Name
	base := path[: len(path)-1 : len(path)-1]
	var keyType reflect.Type
	switch {
	case !isNil(b):
		keyType = b.Type().Key()
	case !isNil(a):
		keyType = a.Type().Key()
	default:
		return
	}
	render := mapKeyRenderer(schema, keyType)
	entryPath := func(key reflect.Value) []*gpb.PathElem {
		return d.paths.entryPath(base, name, render(key))
	}
	entry := func(key, ea, eb reflect.Value) {
		va, vb := ea.IsValid() && !isNil(ea), eb.IsValid() && !isNil(eb)
		switch {
		case va && !vb:
			d.add(entryPath(key), OpDelete, ea, reflect.Value{})
		case vb && !va:
			d.add(entryPath(key), OpCreate, reflect.Value{}, eb)
		case va && vb && ea.Pointer() != eb.Pointer() && !reflect.DeepEqual(ea.Interface(), eb.Interface()):
			d.structs(schema, ea, eb, entryPath(key))
		}
	}
	if keys, ok := d.touched.keysOf(b); ok && !isNil(b) {
		for _, k := range keys {
			var ea reflect.Value
			if !isNil(a) {
				ea = a.MapIndex(k)
			}
			entry(k, ea, b.MapIndex(k))
		}
		return
	}
	if !isNil(a) {
		for it := a.MapRange(); it.Next(); {
			var eb reflect.Value
			if !isNil(b) {
				eb = b.MapIndex(it.Key())
			}
			entry(it.Key(), it.Value(), eb)
		}
	}
	if !isNil(b) {
		if (isNil(a) || a.Len() == 0) && !genericOnly {
			// All of b's entries are new (a boot, a table loaded at
			// once): one key value is reused for the whole walk.
			d.out = slices.Grow(d.out, b.Len())
			k := reflect.New(keyType).Elem()
			for it := b.MapRange(); it.Next(); {
				k.SetIterKey(it)
				if v := it.Value(); !isNil(v) {
					d.add(entryPath(k), OpCreate, reflect.Value{}, v)
				}
			}
			return
		}
		for it := b.MapRange(); it.Next(); {
			if !isNil(a) && a.MapIndex(it.Key()).IsValid() {
				continue
			}
			entry(it.Key(), reflect.Value{}, it.Value())
		}
	}
}

func (d *differ) leaves(a, b reflect.Value, path []*gpb.PathElem) {
	na, nb := isNil(a), isNil(b)
	switch {
	case na && nb:
	case nb:
		d.add(path, OpDelete, a, b)
	case na:
		d.add(path, OpCreate, a, b)
	case !reflect.DeepEqual(a.Interface(), b.Interface()):
		d.add(path, OpReplace, a, b)
	}
}

// Touched records the list entries that transactions set or removed while
// making a tree from base: for each list map they copied, the keys they
// changed in it. Changes uses it to compare those entries only.
type Touched struct {
	base *gen.Device
	maps map[uintptr]*touchedMap
}

type touchedMap struct {
	m    reflect.Value // keeps the map alive, so its address names it
	keys map[any]reflect.Value
	// fresh marks a map the transaction made where the list had none
	// (an empty list, or one it deleted whole, or inside a container it
	// replaced): base's entries there, if any, are gone without a key
	// recorded for each, so the map's keys say nothing and it is
	// compared whole. Its keys are not recorded either: a table loaded
	// at once into an empty list would record every entry for nothing.
	fresh bool
}

func newTouched(base *gen.Device) *Touched {
	return &Touched{base: base, maps: map[uintptr]*touchedMap{}}
}

// Base is the tree the recorded changes are relative to.
func (t *Touched) Base() *gen.Device {
	if t == nil {
		return nil
	}
	return t.base
}

// clone copies t, so that a transaction that fails leaves it as it was.
func (t *Touched) clone() *Touched {
	c := newTouched(t.base)
	for p, tm := range t.maps {
		keys := make(map[any]reflect.Value, len(tm.keys))
		for k, v := range tm.keys {
			keys[k] = v
		}
		c.maps[p] = &touchedMap{m: tm.m, keys: keys, fresh: tm.fresh}
	}
	return c
}

// copied records that map to replaces map from in the new tree: the keys
// changed in from stay changed in to. With from invalid or nil, to is a
// fresh map.
func (t *Touched) copied(from, to reflect.Value) {
	tm := &touchedMap{m: to, keys: map[any]reflect.Value{}}
	if from.IsValid() && !from.IsNil() {
		if prev, ok := t.maps[from.Pointer()]; ok {
			for k, v := range prev.keys {
				tm.keys[k] = v
			}
			tm.fresh = prev.fresh
			delete(t.maps, from.Pointer())
		}
	} else {
		tm.fresh = true
	}
	t.maps[to.Pointer()] = tm
}

// set records that key of map m changed; m must have been recorded by
// copied (a map made or copied by the transaction).
func (t *Touched) set(m, key reflect.Value) {
	if t == nil {
		return
	}
	tm, ok := t.maps[m.Pointer()]
	if !ok || tm.fresh {
		return
	}
	tm.keys[key.Interface()] = key
}

// keysOf returns the changed keys of map m, if m is one t covers.
func (t *Touched) keysOf(m reflect.Value) ([]reflect.Value, bool) {
	if t == nil || !m.IsValid() || m.IsNil() {
		return nil, false
	}
	tm, ok := t.maps[m.Pointer()]
	if !ok || tm.fresh {
		return nil, false
	}
	out := make([]reflect.Value, 0, len(tm.keys))
	for _, k := range tm.keys {
		out = append(out, k)
	}
	return out, true
}

// ChangeSet is what a commit changes under the subtrees one subsystem
// owns, with both trees for context (a subsystem may read anything in
// them, for example a profile a changed session refers to). Both trees are
// read-only, and so are the values of the changes.
type ChangeSet struct {
	Old, New *gen.Device
	Changes  []Change
}

// NewChangeSet computes the ChangeSet of a commit from old to new for a
// subsystem owning the subtrees owns, as the core does: for tools and
// tests that drive an adapter without the element core.
func NewChangeSet(old, new *gen.Device, owns []*gpb.Path) *ChangeSet {
	var mine []Change
	for _, c := range Changes(old, new, nil) {
		for _, p := range owns {
			if PathsOverlap(p.GetElem(), c.Path.GetElem()) {
				mine = append(mine, c)
				break
			}
		}
	}
	return &ChangeSet{Old: old, New: new, Changes: mine}
}

// mapKeyRenderer returns the function that renders a Go map key of type t
// of the list schema as gNMI path keys: the key leaf for a single key, the
// fields of the generated key struct (tagged with their leaf names) for
// several. It is listKeys without the entry's generated key map, which
// allocates more than the diff itself, and with the key names looked up
// once per list.
func mapKeyRenderer(schema *yang.Entry, t reflect.Type) func(key reflect.Value) map[string]string {
	if t.Kind() == reflect.Struct {
		names := keyTagNames(t)
		return func(key reflect.Value) map[string]string {
			out := make(map[string]string, len(names))
			for i, n := range names {
				out[n] = leafString(key.Field(i))
			}
			return out
		}
	}
	name := keyNames(schema)[0]
	return func(key reflect.Value) map[string]string {
		return map[string]string{name: leafString(key)}
	}
}

// keyTagNames returns the path tags of the fields of a generated key
// struct, found once per type.
func keyTagNames(t reflect.Type) []string {
	if v, ok := keyTags.Load(t); ok {
		return v.([]string)
	}
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("path")
	}
	keyTags.Store(t, names)
	return names
}

var keyTags sync.Map // reflect.Type → []string
