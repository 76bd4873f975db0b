package schema

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

// nilIfNone keeps a nil *gen.Device from becoming a non-nil interface.
func nilIfNone(d *gen.Device) ygot.GoStruct {
	if d == nil {
		return nil
	}
	return d
}

// Canonicalize rewrites IPv6 address and prefix leaves of root to their
// canonical RFC 5952 text, re-keying list entries whose key changed, so
// that one address is one list key. base is the tree root was edited from
// (nil if none): its list entries are already canonical, and the unchanged
// ones are skipped. touched, when not nil, records the entries re-keyed.
func Canonicalize(root, base *gen.Device, touched *Touched) error {
	var rekey []reflect.Value // maps holding an entry whose key changed
	// Texts found canonical already, as in Validate: the br-address that
	// 100,000 bindings share is parsed once.
	memo := &addrMemo{}
	err := walk(rootSchema(), root, nilIfNone(base), touched, func(n *node) (bool, error) {
		f := n.field
		if !f.config {
			return true, nil
		}
		if f.child != nil {
			// A container or list entry: skipped when it holds no
			// address leaf, or is unchanged.
			return !f.child.canonical || (n.value.Kind() == reflect.Ptr && n.unchanged()), nil
		}
		if !f.canonical || isNil(n.value) || !(n.schema.IsLeaf() || n.schema.IsLeafList()) {
			return false, nil
		}
		one := n.value.Kind() == reflect.Ptr && n.value.Elem().Kind() == reflect.String
		if one && memo.known(n.schema, n.value.Elem().String()) {
			return false, nil
		}
		changed := setStrings(n.value, canonicalAddr)
		if one && !changed {
			memo.remember(n.schema, n.value.Elem().String())
		}
		if changed && n.schema.Parent != nil && n.schema.Parent.IsList() && isKeyOf(n.schema.Parent, n.schema.Name) {
			rekey = append(rekey, listMapOf(n))
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	for _, m := range rekey {
		if err := rekeyMap(m, touched); err != nil {
			return err
		}
	}
	return nil
}

// canonicalType reports whether leaves of the typedef name hold IPv6
// addresses or prefixes, which have one canonical text.
func canonicalType(name string) bool {
	switch name {
	case "ipv6-address", "ip-address", "ipv6-prefix", "ip-prefix":
		return true
	}
	return false
}

// canonicalAddr returns the RFC 5952 text of an IPv6 address or prefix; other
// strings come back unchanged (validation reports them later).
func canonicalAddr(s string) string {
	if strings.Contains(s, "/") {
		if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is6() && p.Addr().Zone() == "" {
			return p.String()
		}
		return s
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is6() && !a.Is4In6() && a.Zone() == "" {
		// Rendered on the stack: most addresses are canonical already,
		// and then no string is made.
		var buf [64]byte
		if c := a.AppendTo(buf[:0]); string(c) != s {
			return string(c)
		}
	}
	return s
}

// setStrings applies f to a string leaf (*string) or leaf-list ([]string)
// and reports whether any value changed.
func setStrings(v reflect.Value, f func(string) string) bool {
	changed := false
	switch {
	case v.Kind() == reflect.Ptr && v.Elem().Kind() == reflect.String:
		s := v.Elem().String()
		if c := f(s); c != s {
			v.Elem().SetString(c)
			changed = true
		}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		for i := 0; i < v.Len(); i++ {
			s := v.Index(i).String()
			if c := f(s); c != s {
				v.Index(i).SetString(c)
				changed = true
			}
		}
	}
	return changed
}

func isKeyOf(list *yang.Entry, leaf string) bool {
	for _, k := range strings.Fields(list.Key) {
		if k == leaf {
			return true
		}
	}
	return false
}

// listMapOf finds the map of the list whose entry holds leaf n: the field of
// the entry's parent struct that is a map containing this entry.
func listMapOf(n *node) reflect.Value {
	entry := n.parents[len(n.parents)-1]
	parent := n.parents[len(n.parents)-2].Elem()
	for i := 0; i < parent.NumField(); i++ {
		f := parent.Field(i)
		if f.Kind() != reflect.Map || f.Type().Elem() != entry.Type() {
			continue
		}
		return f
	}
	return reflect.Value{}
}

// rekeyMap moves every entry of a list map whose key no longer matches its
// key leaves under the right key. Two entries landing on one key are the
// same entry written twice: an error.
func rekeyMap(m reflect.Value, touched *Touched) error {
	if !m.IsValid() {
		return nil
	}
	for _, k := range m.MapKeys() {
		entry := m.MapIndex(k)
		nk, err := keyOfEntry(entry, k.Type())
		if err != nil {
			return err
		}
		if nk.Interface() == k.Interface() {
			continue
		}
		if m.MapIndex(nk).IsValid() {
			return Errorf(TagDataExists, nil, "list entry %v is given twice (once as %v)", nk.Interface(), k.Interface())
		}
		m.SetMapIndex(k, reflect.Value{})
		m.SetMapIndex(nk, entry)
		touched.set(m, k)
		touched.set(m, nk)
	}
	return nil
}

// keyOfEntry builds the map key of a generated list entry from its key
// leaves: the leaf itself for one key, the generated key struct for several.
func keyOfEntry(entry reflect.Value, keyType reflect.Type) (reflect.Value, error) {
	tk := [2]reflect.Type{entry.Type(), keyType}
	kpv, ok := keyPlans.Load(tk)
	if !ok {
		// The schema is only needed for a single key, whose leaf the
		// generated key map names.
		var kp *keyPlan
		known := true
		if keyType.Kind() == reflect.Struct {
			kp = newKeyPlan(nil, entry.Type().Elem(), keyType)
		} else if name, ok := singleKeyName(entry); ok {
			kp = newKeyPlan(&yang.Entry{Key: name}, entry.Type().Elem(), keyType)
		} else {
			known = false // this entry lacks its key: ask again with the next
		}
		if known {
			kpv, _ = keyPlans.LoadOrStore(tk, kp)
		} else {
			kpv = kp
		}
	}
	if kp := kpv.(*keyPlan); kp != nil && !genericOnly {
		k := reflect.New(keyType).Elem()
		if kp.fill(entry, k) {
			return k, nil
		}
	}
	return keyOfEntrySlow(entry, keyType)
}

// singleKeyName finds the key leaf name of a list with one key from the
// generated key map of an entry.
func singleKeyName(entry reflect.Value) (string, bool) {
	km, ok := entry.Interface().(interface {
		ΛListKeyMap() (map[string]any, error)
	})
	if !ok {
		return "", false
	}
	keys, err := km.ΛListKeyMap()
	if err != nil || len(keys) != 1 {
		return "", false
	}
	for k := range keys {
		return k, true
	}
	return "", false
}

// keyOfEntrySlow is keyOfEntry by reflection lookups and the generated
// key map: the reference the plans follow, and the source of the error
// texts.
func keyOfEntrySlow(entry reflect.Value, keyType reflect.Type) (reflect.Value, error) {
	e := entry.Elem()
	field := func(name string) (reflect.Value, bool) {
		f := e.FieldByName(name)
		if !f.IsValid() {
			return f, false
		}
		if f.Kind() == reflect.Ptr {
			if f.IsNil() {
				return f, false
			}
			f = f.Elem()
		}
		return f, true
	}
	if keyType.Kind() == reflect.Struct {
		k := reflect.New(keyType).Elem()
		for i := 0; i < keyType.NumField(); i++ {
			f, ok := field(keyType.Field(i).Name)
			if !ok {
				return k, fmt.Errorf("list entry lacks key %s", keyType.Field(i).Name)
			}
			k.Field(i).Set(f.Convert(k.Field(i).Type()))
		}
		return k, nil
	}
	km, ok := entry.Interface().(interface {
		ΛListKeyMap() (map[string]any, error)
	})
	if !ok {
		return reflect.Value{}, fmt.Errorf("list entry %s has no key map", e.Type())
	}
	keys, err := km.ΛListKeyMap()
	if err != nil || len(keys) != 1 {
		return reflect.Value{}, fmt.Errorf("list entry %s: key map: %v", e.Type(), err)
	}
	for _, v := range keys {
		return reflect.ValueOf(v).Convert(keyType), nil
	}
	return reflect.Value{}, nil
}
