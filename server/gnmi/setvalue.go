package gnmi

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/grpc/codes"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// applyOp applies one Set operation to the transaction.
func applyOp(tx *schema.Tx, o *setOp) error {
	if o.op == gpb.UpdateResult_DELETE {
		return applyDelete(tx, o)
	}
	if schema.HasWildcards(o.elems) {
		return opErrorf(codes.InvalidArgument, "%s: replace and update take a path without wildcards", o)
	}
	info, err := schema.ResolveNode(o.elems)
	if err != nil {
		if schema.AsError(err).Tag == schema.TagUnknownElement {
			return &opError{codes.NotFound, err}
		}
		return err
	}
	if !info.Config {
		return opErrorf(codes.InvalidArgument, "%s: %s is state (config false) and cannot be set", o, info.Schema.Name)
	}
	path := &gpb.Path{Elem: o.elems}
	replace := o.op == gpb.UpdateResult_REPLACE
	switch info.Kind {
	case schema.KindRoot:
		d := &gen.Device{}
		if err := decodeStruct(o.val, d, path); err != nil {
			return err
		}
		if replace {
			return tx.Set(path, d)
		}
		return mergeChildren(tx, d)
	case schema.KindContainer, schema.KindListEntry:
		fresh := reflect.New(info.Type).Interface().(ygot.GoStruct)
		if err := decodeStruct(o.val, fresh, path); err != nil {
			return err
		}
		if info.Kind == schema.KindListEntry {
			if err := fillKeys(info, fresh, o.elems[len(o.elems)-1], path); err != nil {
				return err
			}
		}
		return put(tx, path, fresh, replace)
	case schema.KindList:
		return applyList(tx, o, info, replace)
	default:
		return applyLeaf(tx, o, info)
	}
}

// put replaces the node at path with fresh, or merges fresh into it.
func put(tx *schema.Tx, path *gpb.Path, fresh ygot.GoStruct, replace bool) error {
	if replace {
		return tx.Set(path, fresh)
	}
	cur, err := tx.Get(path, true)
	if err != nil {
		return err
	}
	return merge(cur, fresh, path)
}

func merge(dst, src ygot.GoStruct, path *gpb.Path) error {
	d, ok1 := dst.(ygot.ValidatedGoStruct)
	s, ok2 := src.(ygot.ValidatedGoStruct)
	if !ok1 || !ok2 {
		return schema.Errorf(schema.TagOperationFailed, path, "cannot merge %T", dst)
	}
	if err := ygot.MergeStructInto(d, s, &ygot.MergeOverwriteExistingFields{}); err != nil {
		return schema.Errorf(schema.TagInvalidValue, path, "%v", err)
	}
	return nil
}

// mergeChildren is an update of the root: each top container is merged
// on its own, so that only what the transaction owns is written.
func mergeChildren(tx *schema.Tx, d *gen.Device) error {
	v := reflect.ValueOf(d).Elem()
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Tag.Get("path")
		fv := v.Field(i)
		if name == "" || fv.IsNil() {
			continue
		}
		if err := put(tx, &gpb.Path{Elem: []*gpb.PathElem{{Name: name}}}, fv.Interface().(ygot.GoStruct), false); err != nil {
			return err
		}
	}
	return nil
}

// applyList replaces or updates a whole list from a JSON array of entries
// (or an object holding the list by name). A replace removes the entries
// the value does not hold (3.4.5).
func applyList(tx *schema.Tx, o *setOp, info *schema.NodeInfo, replace bool) error {
	path := &gpb.Path{Elem: o.elems}
	data, err := jsonOf(o.val, path)
	if err != nil {
		return err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		var wrapped map[string][]json.RawMessage
		if json.Unmarshal(data, &wrapped) != nil || len(wrapped) != 1 {
			return opErrorf(codes.InvalidArgument, "%s: a list takes a JSON array of entries", o)
		}
		for _, v := range wrapped {
			items = v
		}
	}
	if replace {
		if _, err := tx.Delete(path); err != nil {
			return err
		}
	}
	last := o.elems[len(o.elems)-1]
	for _, item := range items {
		fresh := reflect.New(info.Type).Interface().(ygot.GoStruct)
		if err := gen.Unmarshal(item, fresh); err != nil {
			return schema.Errorf(schema.TagInvalidValue, path, "list entry does not match the schema: %v", err)
		}
		keys, err := entryKeys(fresh)
		if err != nil {
			return schema.Errorf(schema.TagMissingElement, path, "list entry without its keys: %v", err)
		}
		entry := &gpb.Path{Elem: append(append([]*gpb.PathElem(nil), o.elems[:len(o.elems)-1]...), &gpb.PathElem{Name: last.Name, Key: keys})}
		if err := put(tx, entry, fresh, replace); err != nil {
			return err
		}
	}
	return nil
}

func entryKeys(s ygot.GoStruct) (map[string]string, error) {
	kh, ok := s.(ygot.KeyHelperGoStruct)
	if !ok {
		return nil, errors.New("not a keyed list entry")
	}
	raw, err := kh.ΛListKeyMap()
	if err != nil {
		return nil, err
	}
	keys := make(map[string]string, len(raw))
	for k, v := range raw {
		if keys[k], err = ygot.KeyValueAsString(v); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// fillKeys sets the key leaves of a list entry decoded from a value to the
// keys of its path; a value giving them differently is an error (3.4.5).
func fillKeys(info *schema.NodeInfo, fresh ygot.GoStruct, e *gpb.PathElem, path *gpb.Path) error {
	v := reflect.ValueOf(fresh)
	for name, want := range e.Key {
		leaf, field, ok := schema.LeafField(info.Schema, v, name)
		if !ok {
			return schema.Errorf(schema.TagBadElement, path, "no key leaf %s", name)
		}
		if schema.LeafIsSet(field) {
			if have := schema.LeafTexts(field); len(have) != 1 || have[0] != want {
				return opErrorf(codes.InvalidArgument, "%s: the value gives key %s as %q, the path as %q", schema.PathString(path), name, strings.Join(have, " "), want)
			}
			continue
		}
		if err := schema.SetLeafText(leaf, field, want); err != nil {
			return schema.Errorf(schema.TagInvalidValue, path, "key %s: %v", name, err)
		}
	}
	return nil
}

// applyLeaf sets a leaf or a whole leaf-list.
func applyLeaf(tx *schema.Tx, o *setOp, info *schema.NodeInfo) error {
	path := &gpb.Path{Elem: o.elems}
	texts, err := scalarTexts(o.val, path)
	if err != nil {
		return err
	}
	name := stripModule(o.elems[len(o.elems)-1].Name)
	if info.IsKey { // allowed only when it says what the path says
		want := o.elems[len(o.elems)-2].Key[name]
		if len(texts) != 1 || texts[0] != want {
			return opErrorf(codes.InvalidArgument, "%s: key leaf %s cannot change (the path says %q)", o, name, want)
		}
		return nil
	}
	if info.Kind == schema.KindLeaf && len(texts) != 1 {
		return opErrorf(codes.InvalidArgument, "%s: a leaf takes one value, not %d", o, len(texts))
	}
	parentPath := &gpb.Path{Elem: o.elems[:len(o.elems)-1]}
	parent, err := tx.Get(parentPath, true)
	if err != nil {
		return err
	}
	leaf, field, ok := schema.LeafField(info.Parent, reflect.ValueOf(parent), name)
	if !ok {
		return schema.Errorf(schema.TagUnknownElement, path, "no leaf %s", name)
	}
	if info.Kind == schema.KindLeafList {
		field.Set(reflect.Zero(field.Type()))
	}
	for _, t := range texts {
		if err := schema.SetLeafText(leaf, field, t); err != nil {
			return schema.Errorf(schema.TagInvalidValue, path, "%v", err)
		}
	}
	return nil
}

// applyDelete removes what the path selects; wildcards are expanded
// against the configuration (3.4.6), and what does not exist is silently
// accepted.
func applyDelete(tx *schema.Tx, o *setOp) error {
	if err := schema.CheckPath(o.elems); err != nil {
		return err
	}
	targets := []*gpb.Path{{Elem: o.elems}}
	if schema.HasWildcards(o.elems) {
		matches, err := schema.MatchPath(tx.Root(), o.elems)
		if err != nil {
			return err
		}
		targets = targets[:0]
		for _, m := range matches {
			targets = append(targets, &gpb.Path{Elem: m.Path})
		}
	}
	for _, p := range targets {
		info, err := schema.ResolveNode(p.Elem)
		if err != nil {
			return err
		}
		if info.IsKey {
			return opErrorf(codes.InvalidArgument, "%s: a key leaf cannot be deleted; delete the list entry", o)
		}
		if !info.Config {
			return opErrorf(codes.InvalidArgument, "%s: %s is state (config false) and cannot be deleted", o, info.Schema.Name)
		}
		if _, err := tx.Delete(p); err != nil {
			return err
		}
	}
	return nil
}

func opErrorf(code codes.Code, format string, args ...any) error {
	return &opError{code: code, err: fmt.Errorf(format, args...)}
}

// jsonOf returns the JSON of a structured value.
func jsonOf(tv *gpb.TypedValue, path *gpb.Path) ([]byte, error) {
	switch v := tv.GetValue().(type) {
	case *gpb.TypedValue_JsonIetfVal:
		return v.JsonIetfVal, nil
	case *gpb.TypedValue_JsonVal:
		return v.JsonVal, nil
	case nil:
		return nil, opErrorf(codes.InvalidArgument, "%s: no value", schema.PathString(path))
	case *gpb.TypedValue_BytesVal, *gpb.TypedValue_ProtoBytes, *gpb.TypedValue_AsciiVal, *gpb.TypedValue_AnyVal:
		return nil, opErrorf(codes.Unimplemented, "%s: encoding %T is not supported: use JSON or JSON_IETF", schema.PathString(path), v)
	}
	return nil, opErrorf(codes.InvalidArgument, "%s: a container or list takes a JSON or JSON_IETF value, not a scalar", schema.PathString(path))
}

// decodeStruct decodes a JSON value into a fresh generated struct.
// Unknown members are errors.
func decodeStruct(tv *gpb.TypedValue, dst ygot.GoStruct, path *gpb.Path) error {
	data, err := jsonOf(tv, path)
	if err != nil {
		return err
	}
	if err := gen.Unmarshal(data, dst); err != nil {
		return schema.Errorf(schema.TagInvalidValue, path, "value does not match the schema: %v", err)
	}
	return nil
}

// scalarTexts returns the YANG text of the value(s) of a leaf or
// leaf-list update, from a scalar TypedValue or a JSON scalar or array.
func scalarTexts(tv *gpb.TypedValue, path *gpb.Path) ([]string, error) {
	bad := func(format string, args ...any) ([]string, error) {
		return nil, opErrorf(codes.InvalidArgument, "%s: %s", schema.PathString(path), fmt.Sprintf(format, args...))
	}
	switch v := tv.GetValue().(type) {
	case *gpb.TypedValue_StringVal:
		return []string{v.StringVal}, nil
	case *gpb.TypedValue_IntVal:
		return []string{strconv.FormatInt(v.IntVal, 10)}, nil
	case *gpb.TypedValue_UintVal:
		return []string{strconv.FormatUint(v.UintVal, 10)}, nil
	case *gpb.TypedValue_BoolVal:
		return []string{strconv.FormatBool(v.BoolVal)}, nil
	case *gpb.TypedValue_FloatVal:
		//lint:ignore SA1019 clients still send it
		return []string{strconv.FormatFloat(float64(v.FloatVal), 'f', -1, 32)}, nil
	case *gpb.TypedValue_DoubleVal:
		return []string{strconv.FormatFloat(v.DoubleVal, 'f', -1, 64)}, nil
	case *gpb.TypedValue_DecimalVal:
		//lint:ignore SA1019 clients still send it
		return []string{decimalText(v.DecimalVal.Digits, v.DecimalVal.Precision)}, nil
	case *gpb.TypedValue_LeaflistVal:
		var out []string
		for _, e := range v.LeaflistVal.GetElement() {
			t, err := scalarTexts(e, path)
			if err != nil {
				return nil, err
			}
			if len(t) != 1 {
				return bad("a leaf-list element must be a scalar")
			}
			out = append(out, t[0])
		}
		return out, nil
	case nil:
		return bad("no value")
	}
	data, err := jsonOf(tv, path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return bad("value is not JSON: %v", err)
	}
	if arr, ok := x.([]any); ok {
		if len(arr) == 1 && arr[0] == nil { // RFC 7951 type empty
			return []string{""}, nil
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			t, ok := jsonScalarText(e)
			if !ok {
				return bad("a leaf-list element must be a JSON scalar")
			}
			out = append(out, t)
		}
		return out, nil
	}
	t, ok := jsonScalarText(x)
	if !ok {
		return bad("a leaf takes a JSON scalar, not an object")
	}
	return []string{t}, nil
}

func jsonScalarText(x any) (string, bool) {
	switch v := x.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func decimalText(digits int64, precision uint32) string {
	neg := digits < 0
	if neg {
		digits = -digits
	}
	s := strconv.FormatInt(digits, 10)
	if p := int(precision); p > 0 {
		for len(s) <= p {
			s = "0" + s
		}
		s = s[:len(s)-p] + "." + s[len(s)-p:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
