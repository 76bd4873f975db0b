package schema

import (
	"maps"
	"reflect"
	"strings"
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

// Tx edits a datastore by copy on write: the nodes it changes and their
// ancestors are copied, everything else stays shared with the tree it
// started from. A one-leaf edit next to a million bindings copies a handful
// of structs and one map, and the commit pipeline recognises the untouched
// entries by pointer instead of comparing them.
//
// Nodes returned by Get are private to the transaction and may be changed
// freely, their whole subtree included. Nodes reached any other way (Root,
// Lookup) are shared and must only be read.
type Tx struct {
	root *gen.Device
	// shallow holds the structs and maps copied as ancestors of an edited
	// node: their fields may be replaced, their children are still shared.
	shallow map[uintptr]bool
	// deep holds the roots of subtrees copied whole by Get.
	deep map[uintptr]bool
	// touched records the list entries set or removed, for Changes.
	touched *Touched
}

// NewTx starts a transaction on base, which it never modifies.
func NewTx(base *gen.Device) *Tx { return NewTxAfter(base, nil) }

// NewTxAfter starts a transaction on base, a tree that earlier
// transactions made from prev.Base() and recorded in prev (a candidate
// edited several times before its commit). Touched then covers every
// change from prev.Base(); with prev nil, the changes from base.
func NewTxAfter(base *gen.Device, prev *Touched) *Tx {
	tx := &Tx{shallow: map[uintptr]bool{}, deep: map[uintptr]bool{}}
	if prev != nil {
		tx.touched = prev.clone()
	} else {
		tx.touched = newTouched(base)
	}
	rv := reflect.New(reflect.TypeOf(gen.Device{}))
	rv.Elem().Set(reflect.ValueOf(base).Elem())
	tx.root = rv.Interface().(*gen.Device)
	tx.shallow[rv.Pointer()] = true
	return tx
}

// Touched records what the transaction changed in lists, for Changes.
func (tx *Tx) Touched() *Touched { return tx.touched }

// Root is the tree as edited so far. Read it; change it only through Get,
// Set and Delete.
func (tx *Tx) Root() *gen.Device { return tx.root }

// Lookup returns the container or list entry at path, nil if absent.
func (tx *Tx) Lookup(path *gpb.Path) (ygot.GoStruct, error) {
	v, _, err := tx.walkTo(path.GetElem(), false, false, false)
	if err != nil || !v.IsValid() || v.IsNil() {
		return nil, err
	}
	return v.Interface().(ygot.GoStruct), nil
}

// Get returns the container or list entry at path, private to the
// transaction, creating it (and its ancestors) when create is set. It
// returns nil without error when the node is absent and create is not set.
func (tx *Tx) Get(path *gpb.Path, create bool) (ygot.GoStruct, error) {
	v, _, err := tx.walkTo(path.GetElem(), create, true, true)
	if err != nil || !v.IsValid() || v.IsNil() {
		return nil, err
	}
	return v.Interface().(ygot.GoStruct), nil
}

// Set puts node at path in place of what was there (a replace). node must
// be a generated struct of the node's type, which the transaction takes;
// for a list entry its key leaves must match the keys of path.
func (tx *Tx) Set(path *gpb.Path, node ygot.GoStruct) error {
	elems := path.GetElem()
	if len(elems) == 0 {
		d, ok := node.(*gen.Device)
		if !ok {
			return Errorf(TagInvalidValue, path, "the root takes a whole tree, not %T", node)
		}
		*tx.root = *d
		return nil
	}
	parent, schema, err := tx.walkTo(elems[:len(elems)-1], true, true, false)
	if err != nil {
		return err
	}
	f, err := childField(schema, parent, elems[len(elems)-1].Name, path)
	if err != nil {
		return err
	}
	nv := reflect.ValueOf(node)
	fv := parent.Elem().Field(f.index)
	switch f.kind {
	case FieldContainer:
		if nv.Type() != fv.Type() {
			return Errorf(TagInvalidValue, path, "%s takes %s, not %T", f.name, fv.Type(), node)
		}
		fv.Set(nv)
	case FieldListMap:
		key, err := mapKey(f.schema, fv.Type().Key(), elems[len(elems)-1], path)
		if err != nil {
			return err
		}
		if nv.Type() != fv.Type().Elem() {
			return Errorf(TagInvalidValue, path, "%s takes %s, not %T", f.name, fv.Type().Elem(), node)
		}
		if k, err := keyOfEntry(nv, fv.Type().Key()); err != nil || k.Interface() != key.Interface() {
			return Errorf(TagInvalidValue, path, "the entry's key leaves do not match the path")
		}
		tx.setEntry(fv, key, nv)
	default:
		return Errorf(TagInvalidValue, path, "%s is not a container or list entry", f.name)
	}
	tx.deep[nv.Pointer()] = true
	return nil
}

// Delete removes the node at path (container, list entry, whole list or
// leaf) and reports whether it existed.
func (tx *Tx) Delete(path *gpb.Path) (bool, error) {
	elems := path.GetElem()
	if len(elems) == 0 {
		*tx.root = gen.Device{}
		return true, nil
	}
	parent, schema, err := tx.walkTo(elems[:len(elems)-1], false, true, false)
	if err != nil || !parent.IsValid() || parent.IsNil() {
		return false, err
	}
	return tx.deleteChild(parent, schema, elems[len(elems)-1], path)
}

// walkTo follows elems from the root, creating absent nodes when create is
// set. With write set every struct on the way becomes the transaction's by
// a shallow copy, and with own the target by a deep one. It returns the
// node and its schema; an invalid or nil value when absent.
func (tx *Tx) walkTo(elems []*gpb.PathElem, create, write, own bool) (reflect.Value, *yang.Entry, error) {
	cur := reflect.ValueOf(tx.root)
	schema := rootSchema()
	for i, e := range elems {
		next, f, key, err := tx.step(cur, schema, e, elems[:i], create, write)
		if err != nil {
			return reflect.Value{}, nil, err
		}
		if !next.IsValid() || next.IsNil() {
			return reflect.Value{}, f.schema, nil
		}
		if own && i == len(elems)-1 && !tx.deep[next.Pointer()] {
			next = deepCopy(next, tx.isDeep)
			tx.deep[next.Pointer()] = true
			tx.put(cur, f, key, next)
		}
		cur, schema = next, f.schema
	}
	return cur, schema, nil
}

// step moves from the struct cur, which the transaction owns when write is
// set, to its child e: absent children are created when create is set, and
// shared ones are copied (shallowly) when write is set. key is the map key
// of a list entry. prefix is the path to cur, for errors: the path of e is
// made only when one is reported.
func (tx *Tx) step(cur reflect.Value, schema *yang.Entry, e *gpb.PathElem, prefix []*gpb.PathElem, create, write bool) (reflect.Value, *fieldInfo, reflect.Value, error) {
	path := func() *gpb.Path { return &gpb.Path{Elem: append(prefix[:len(prefix):len(prefix)], e)} }
	f, err := childField(schema, cur, e.Name, nil)
	if err != nil {
		_, err = childField(schema, cur, e.Name, path())
		return reflect.Value{}, nil, reflect.Value{}, err
	}
	fv := cur.Elem().Field(f.index)
	var next, key reflect.Value
	switch f.kind {
	case FieldContainer:
		next = fv
	case FieldListMap:
		if len(e.Key) == 0 {
			return reflect.Value{}, nil, key, Errorf(TagMissingElement, path(), "list %s needs its keys", e.Name)
		}
		if key, err = mapKey(f.schema, fv.Type().Key(), e, nil); err != nil {
			_, err = mapKey(f.schema, fv.Type().Key(), e, path())
			return reflect.Value{}, nil, key, err
		}
		if !fv.IsNil() {
			next = fv.MapIndex(key)
		}
	default:
		return reflect.Value{}, nil, key, Errorf(TagInvalidValue, path(), "%s is not a container or list entry", e.Name)
	}
	switch {
	case !next.IsValid() || next.IsNil():
		if !create {
			return reflect.Value{}, f, key, nil
		}
		if f.kind == FieldListMap {
			next = newEntry(f.schema, fv.Type().Elem().Elem(), fv.Type().Key(), key)
		} else {
			next = reflect.New(fv.Type().Elem())
		}
		tx.deep[next.Pointer()] = true
	case write && !tx.owns(next):
		c := reflect.New(next.Type().Elem())
		c.Elem().Set(next.Elem())
		tx.shallow[c.Pointer()] = true
		next = c
	default:
		return next, f, key, nil
	}
	tx.put(cur, f, key, next)
	return next, f, key, nil
}

// put stores child in field f of the owned struct cur (under key for a
// list), making the list's map the transaction's first.
func (tx *Tx) put(cur reflect.Value, f *fieldInfo, key, child reflect.Value) {
	fv := cur.Elem().Field(f.index)
	if f.kind == FieldListMap {
		tx.setEntry(fv, key, child)
		return
	}
	fv.Set(child)
}

func (tx *Tx) owns(v reflect.Value) bool {
	p := v.Pointer()
	return tx.shallow[p] || tx.deep[p]
}

// Touch returns the container or list entry at path, owned by the
// transaction shallowly: its leaves may be set and its children reached
// with TouchChild, but its child containers are still shared and must not
// be changed directly. It creates the node when create is set and returns
// nil when it is absent otherwise. An edit that merges into a large
// container touches it without copying what it holds.
func (tx *Tx) Touch(path *gpb.Path, create bool) (ygot.GoStruct, *yang.Entry, error) {
	v, schema, err := tx.walkTo(path.GetElem(), create, true, false)
	if err != nil || !v.IsValid() || v.IsNil() {
		return nil, schema, err
	}
	return v.Interface().(ygot.GoStruct), schema, nil
}

// TouchChild is Touch for child e of parent, a node the transaction owns
// (from Touch, TouchChild or Get) whose schema is schema.
func (tx *Tx) TouchChild(parent ygot.GoStruct, schema *yang.Entry, e *gpb.PathElem, create bool) (ygot.GoStruct, *yang.Entry, error) {
	next, f, _, err := tx.step(reflect.ValueOf(parent), schema, e, nil, create, true)
	if err != nil {
		return nil, nil, err
	}
	if !next.IsValid() || next.IsNil() {
		return nil, f.schema, nil
	}
	return next.Interface().(ygot.GoStruct), f.schema, nil
}

// Reserve makes room for n entries in list name of parent, a node the
// transaction owns whose schema is schema, when that list is empty: a
// bulk load of 100,000 entries into it then fills one map instead of
// growing and rehashing it a dozen times. It does nothing otherwise
// (unknown name, not a keyed list, entries present).
func (tx *Tx) Reserve(parent ygot.GoStruct, schema *yang.Entry, name string, n int) {
	pv := reflect.ValueOf(parent)
	f, err := childField(schema, pv, name, nil)
	if err != nil || f.kind != FieldListMap {
		return
	}
	fv := pv.Elem().Field(f.index)
	if !fv.IsNil() {
		return
	}
	m := reflect.MakeMapWithSize(fv.Type(), n)
	fv.Set(m)
	tx.shallow[m.Pointer()] = true
	tx.touched.copied(reflect.Value{}, m)
	// Each new entry, and a container in it, is recorded as the
	// transaction's: that record is sized for them too.
	if want := len(tx.deep) + 2*n; len(tx.deep) < n {
		deep := make(map[uintptr]bool, want)
		for p := range tx.deep {
			deep[p] = true
		}
		tx.deep = deep
	}
}

// DeleteChild removes child e of parent, a node the transaction owns, and
// reports whether it existed.
func (tx *Tx) DeleteChild(parent ygot.GoStruct, schema *yang.Entry, e *gpb.PathElem) (bool, error) {
	return tx.deleteChild(reflect.ValueOf(parent), schema, e, &gpb.Path{Elem: []*gpb.PathElem{e}})
}

// deleteChild removes child e of the owned struct pv: a container, a list
// entry, a whole list (e without keys) or a leaf.
func (tx *Tx) deleteChild(pv reflect.Value, schema *yang.Entry, e *gpb.PathElem, path *gpb.Path) (bool, error) {
	f, err := childField(schema, pv, e.Name, path)
	if err != nil {
		return false, err
	}
	fv := pv.Elem().Field(f.index)
	if f.kind == FieldListMap && len(e.Key) > 0 {
		if fv.IsNil() {
			return false, nil
		}
		key, err := mapKey(f.schema, fv.Type().Key(), e, path)
		if err != nil {
			return false, err
		}
		if !fv.MapIndex(key).IsValid() {
			return false, nil
		}
		tx.setEntry(fv, key, reflect.Value{})
		return true, nil
	}
	if isNil(fv) {
		return false, nil
	}
	fv.Set(reflect.Zero(fv.Type()))
	return true, nil
}

func (tx *Tx) isDeep(v reflect.Value) bool { return tx.deep[v.Pointer()] }

// setEntry sets (or with an invalid v removes) the entry key of the list
// map in field fv, making the map the transaction's first.
func (tx *Tx) setEntry(fv, key, v reflect.Value) {
	m := tx.ownMap(fv)
	m.SetMapIndex(key, v)
	tx.touched.set(m, key)
}

// ownMap makes the map in field fv the transaction's (a shallow copy of its
// entries) and returns it.
func (tx *Tx) ownMap(fv reflect.Value) reflect.Value {
	if fv.IsNil() {
		m := reflect.MakeMap(fv.Type())
		fv.Set(m)
		tx.shallow[m.Pointer()] = true
		tx.touched.copied(reflect.Value{}, m)
		return m
	}
	if tx.shallow[fv.Pointer()] {
		return fv
	}
	var m reflect.Value
	if clone, ok := mapCloners[fv.Type()]; ok {
		m = clone(fv)
	} else {
		m = reflect.MakeMapWithSize(fv.Type(), fv.Len()+1)
		for it := fv.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), it.Value())
		}
	}
	tx.touched.copied(fv, m)
	fv.Set(m)
	tx.shallow[m.Pointer()] = true
	return m
}

// childField finds the data field name of the struct pointer cur.
func childField(schema *yang.Entry, cur reflect.Value, name string, path *gpb.Path) (*fieldInfo, error) {
	si := fieldsOf(schema, cur.Type().Elem())
	if j, ok := si.byName[stripPrefix(name)]; ok {
		f := &si.fields[j]
		if !f.config {
			return nil, Errorf(TagInvalidValue, path, "%s is state (config false) and cannot be configured", f.name)
		}
		return f, nil
	}
	return nil, Errorf(TagUnknownElement, path, "%s has no child %q", schema.Name, name)
}

// stripPrefix drops a "module:" qualification from a node name.
func stripPrefix(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// mapKey turns the string keys of a path element into the Go map key of a
// generated list.
func mapKey(schema *yang.Entry, keyType reflect.Type, e *gpb.PathElem, path *gpb.Path) (reflect.Value, error) {
	names := keyNames(schema)
	if len(e.Key) != len(names) {
		return reflect.Value{}, Errorf(TagMissingElement, path, "list %s is keyed by %s", schema.Name, strings.Join(names, " "))
	}
	if keyType.Kind() != reflect.Struct {
		s, ok := e.Key[names[0]]
		if !ok {
			return reflect.Value{}, Errorf(TagMissingElement, path, "missing key %s", names[0])
		}
		return parseKey(schema.Dir[names[0]], keyType, s, path)
	}
	k := reflect.New(keyType).Elem()
	for i, tag := range keyTagNames(keyType) {
		s, ok := e.Key[tag]
		if !ok {
			return reflect.Value{}, Errorf(TagMissingElement, path, "missing key %s", tag)
		}
		if !genericOnly && setKeyFast(k.Field(i), s) {
			continue
		}
		v, err := parseKey(schema.Dir[tag], keyType.Field(i).Type, s, path)
		if err != nil {
			return reflect.Value{}, err
		}
		k.Field(i).Set(v)
	}
	return k, nil
}

// setKeyFast sets a key field of a plain string or unsigned integer type
// from text as parseKey would, without its intermediate value: any text
// for a string, plain decimal digits in range for an integer. It reports
// false, having done nothing, for anything else.
func setKeyFast(dst reflect.Value, text string) bool {
	switch dst.Type() {
	case reflect.TypeOf(""):
		dst.SetString(text)
		return true
	case reflect.TypeOf(uint8(0)), reflect.TypeOf(uint16(0)), reflect.TypeOf(uint32(0)), reflect.TypeOf(uint64(0)):
		if len(text) == 0 || len(text) > 19 {
			return false
		}
		var n uint64
		for i := 0; i < len(text); i++ {
			if text[i] < '0' || text[i] > '9' {
				return false
			}
			n = n*10 + uint64(text[i]-'0')
		}
		if dst.OverflowUint(n) {
			return false
		}
		dst.SetUint(n)
		return true
	}
	return false
}

// keyNames returns the key leaf names of a list schema, split once.
func keyNames(schema *yang.Entry) []string {
	if v, ok := listKeyNames.Load(schema); ok {
		return v.([]string)
	}
	names := strings.Fields(schema.Key)
	listKeyNames.Store(schema, names)
	return names
}

var listKeyNames sync.Map // *yang.Entry -> []string

// newEntry makes an entry of the list schema whose key leaves hold key.
func newEntry(schema *yang.Entry, t reflect.Type, keyType reflect.Type, key reflect.Value) reflect.Value {
	entry := reflect.New(t)
	// Convert copies its value to the heap; the key field and the entry
	// leaf have one type but for generated named types.
	conv := func(v reflect.Value, t reflect.Type) reflect.Value {
		if v.Type() == t {
			return v
		}
		return v.Convert(t)
	}
	set := func(f reflect.Value, v reflect.Value) {
		if f.Kind() == reflect.Ptr {
			p := reflect.New(f.Type().Elem())
			p.Elem().Set(conv(v, f.Type().Elem()))
			f.Set(p)
		} else {
			f.Set(conv(v, f.Type()))
		}
	}
	tk := [2]reflect.Type{t, keyType}
	kpv, ok := entryKeyPlans.Load(tk)
	if !ok {
		kpv, _ = entryKeyPlans.LoadOrStore(tk, newKeyPlan(schema, t, keyType))
	}
	if kp := kpv.(*keyPlan); kp != nil {
		if keyType.Kind() == reflect.Struct {
			for i, fi := range kp.fields {
				set(entry.Elem().Field(fi), key.Field(i))
			}
		} else {
			set(entry.Elem().Field(kp.fields[0]), key)
		}
		return entry
	}
	if keyType.Kind() == reflect.Struct {
		for i := 0; i < keyType.NumField(); i++ {
			set(entry.Elem().FieldByName(keyType.Field(i).Name), key.Field(i))
		}
		return entry
	}
	si := fieldsOf(schema, t)
	set(entry.Elem().Field(si.fields[si.byName[strings.TrimSpace(schema.Key)]].index), key)
	return entry
}

// entryKeyPlans caches the key plans of newEntry by type.
var entryKeyPlans sync.Map // [2]reflect.Type{entry struct, key} -> *keyPlan

// mapCloners copy the maps of the lists that hold up to millions of
// entries with maps.Clone, which copies the runtime's hash groups instead
// of hashing and inserting entry after entry as reflection must.
var mapCloners = map[reflect.Type]func(reflect.Value) reflect.Value{
	reflect.TypeOf(map[gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire_Key]*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire(nil)): cloneMapOf[gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire_Key, *gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire],
}

func cloneMapOf[K comparable, V any](v reflect.Value) reflect.Value {
	return reflect.ValueOf(maps.Clone(v.Interface().(map[K]V)))
}
