package schema

import (
	"encoding/json"
	"fmt"
	"reflect"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
)

// The JSON form of changes, which the element core journals: one object
// per change, its path as a list of elements (name, then key and value
// pairs, which no escaping can confuse) and the node's new value as RFC
// 7951 JSON (omitted for a delete). Replaying the changes of a commit onto
// the tree it was made from gives the tree it made.

type jsonChange struct {
	Op    string          `json:"op"`
	Path  [][]string      `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// EncodeChanges renders changes as a JSON array.
func EncodeChanges(changes []Change) ([]byte, error) {
	out := make([]jsonChange, len(changes))
	for i, c := range changes {
		jc := jsonChange{Op: c.Op, Path: make([][]string, len(c.Path.GetElem()))}
		for j, e := range c.Path.GetElem() {
			el := []string{e.Name}
			if len(e.Key) > 0 {
				info, err := ResolveNode(c.Path.Elem[:j+1])
				if err != nil {
					return nil, err
				}
				for _, k := range keyNames(info.Schema) {
					el = append(el, k, e.Key[k])
				}
			}
			jc.Path[j] = el
		}
		if c.New != nil {
			info, err := ResolveNode(c.Path.GetElem())
			if err != nil {
				return nil, err
			}
			m := Match{Path: c.Path.Elem, Schema: info.Schema, Value: reflect.ValueOf(c.New), Module: info.Module,
				Leaf: info.Kind == KindLeaf || info.Kind == KindLeafList}
			v, err := EncodeMatchJSON(m, true, nil)
			if err != nil {
				return nil, err
			}
			jc.Value = v
		}
		out[i] = jc
	}
	return json.Marshal(out)
}

// ApplyEncodedChanges replays changes rendered by EncodeChanges through tx.
func ApplyEncodedChanges(tx *Tx, data []byte) error {
	var in []jsonChange
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("changes: %w", err)
	}
	for _, jc := range in {
		path := &gpb.Path{Elem: make([]*gpb.PathElem, len(jc.Path))}
		for j, el := range jc.Path {
			if len(el) == 0 || len(el)%2 != 1 {
				return fmt.Errorf("changes: bad path element %q", el)
			}
			e := &gpb.PathElem{Name: el[0]}
			if len(el) > 1 {
				e.Key = map[string]string{}
				for k := 1; k+1 < len(el); k += 2 {
					e.Key[el[k]] = el[k+1]
				}
			}
			path.Elem[j] = e
		}
		if err := applyChange(tx, jc.Op, path, jc.Value); err != nil {
			return fmt.Errorf("changes: %s %s: %w", jc.Op, PathString(path), err)
		}
	}
	return nil
}

func applyChange(tx *Tx, op string, path *gpb.Path, value json.RawMessage) error {
	if op == OpDelete {
		_, err := tx.Delete(path)
		return err
	}
	info, err := ResolveNode(path.Elem)
	if err != nil {
		return err
	}
	switch info.Kind {
	case KindContainer, KindListEntry:
		v, err := decodeValueJSON(info.Schema, reflect.PointerTo(info.Type), info.Module, value)
		if err != nil {
			return err
		}
		return tx.Set(path, v.Interface().(ygot.GoStruct))
	case KindLeaf, KindLeafList:
		parent, pschema, err := tx.Touch(&gpb.Path{Elem: path.Elem[:len(path.Elem)-1]}, true)
		if err != nil {
			return err
		}
		leaf, field, ok := LeafField(pschema, reflect.ValueOf(parent), stripPrefix(path.Elem[len(path.Elem)-1].Name))
		if !ok {
			return fmt.Errorf("not a leaf")
		}
		v, err := decodeValueJSON(leaf, field.Type(), info.Module, value)
		if err != nil {
			return err
		}
		field.Set(v)
		return nil
	}
	return fmt.Errorf("cannot set a node of kind %d", info.Kind)
}
