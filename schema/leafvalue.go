package schema

import (
	"fmt"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"reflect"
	"strconv"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"
)

// The text codec of leaf and key values: the NETCONF XML codec, the CLI,
// gNMI path keys and error messages read and write leaves of generated
// structs as the strings RFC 7950 defines for each type (section 9, the
// lexical representation), and this is the one place that knows how each Go
// field holds its type. Keys and leaves follow the same rules: a boolean is
// "true" or "false", numbers are decimal (surrounding white space allowed,
// as XML content often has it), an enumeration is its name and an identity
// its name with an optional "module:" prefix.

// LeafField returns the schema and value of data field name of the generated
// struct behind pointer parent (whose schema is schema). ok is false when
// the struct has no such leaf or leaf-list.
func LeafField(schema *yang.Entry, parent reflect.Value, name string) (leaf *yang.Entry, field reflect.Value, ok bool) {
	si := fieldsOf(schema, parent.Elem().Type())
	i, found := si.byName[name]
	if !found {
		return nil, reflect.Value{}, false
	}
	f := &si.fields[i]
	if f.kind != FieldLeaf && f.kind != FieldLeafList {
		return nil, reflect.Value{}, false
	}
	return f.schema, parent.Elem().Field(f.index), true
}

// SetLeafText sets a leaf, or adds a value to a leaf-list (unless present),
// from its YANG text. The value is checked against its Go type here and
// against the YANG type (ranges, patterns) when the datastore is validated.
func SetLeafText(leaf *yang.Entry, field reflect.Value, text string) error {
	if field.Kind() == reflect.Ptr && !genericOnly && setLeafFast(field, text) {
		return nil
	}
	if field.Kind() == reflect.Slice {
		v, err := parseScalar(leaf, field.Type().Elem(), text)
		if err != nil {
			return err
		}
		for i := 0; i < field.Len(); i++ {
			if field.Index(i).Interface() == v.Interface() {
				return nil
			}
		}
		// A new slice: the old one may be shared with a committed tree.
		out := reflect.MakeSlice(field.Type(), 0, field.Len()+1)
		out = reflect.AppendSlice(out, field)
		field.Set(reflect.Append(out, v))
		return nil
	}
	if field.Kind() == reflect.Ptr {
		v, err := parseScalar(leaf, field.Type().Elem(), text)
		if err != nil {
			return err
		}
		p := reflect.New(field.Type().Elem())
		p.Elem().Set(v)
		field.Set(p)
		return nil
	}
	v, err := parseScalar(leaf, field.Type(), text) // enumerations
	if err != nil {
		return err
	}
	field.Set(v)
	return nil
}

// setLeafFast sets a leaf of a plain Go type from text without the
// generic path's intermediate values: any text for a string, plain
// decimal digits in range for an integer. It reports false, having done
// nothing, for anything else, which the generic path then reads or
// explains.
func setLeafFast(field reflect.Value, text string) bool {
	k := scalarKinds[field.Type()]
	switch k {
	case scalarOther, scalarBool:
		return false
	case scalarString:
		field.Set(reflect.ValueOf(&text))
		return true
	}
	neg := k >= scalarInt8 && len(text) > 0 && text[0] == '-'
	digits := text
	if neg {
		digits = text[1:]
	}
	if len(digits) == 0 || len(digits) > 19 {
		return false
	}
	var n uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + uint64(c-'0')
	}
	p := integerPointer(k, n, neg)
	if p == nil {
		return false
	}
	field.Set(reflect.ValueOf(p))
	return true
}

// RemoveLeafListText removes one value from a leaf-list and reports whether
// it was there.
func RemoveLeafListText(leaf *yang.Entry, field reflect.Value, text string) (bool, error) {
	v, err := parseScalar(leaf, field.Type().Elem(), text)
	if err != nil {
		return false, err
	}
	for i := 0; i < field.Len(); i++ {
		if field.Index(i).Interface() == v.Interface() {
			out := reflect.MakeSlice(field.Type(), 0, field.Len()-1)
			out = reflect.AppendSlice(out, field.Slice(0, i))
			out = reflect.AppendSlice(out, field.Slice(i+1, field.Len()))
			if out.Len() == 0 {
				out = reflect.Zero(field.Type())
			}
			field.Set(out)
			return true, nil
		}
	}
	return false, nil
}

// LeafTexts returns the YANG text of a leaf (one value) or leaf-list (its
// values in order); nothing for an unset leaf.
func LeafTexts(field reflect.Value) []string { return leafStrings(field) }

// LeafIsSet reports whether a leaf or leaf-list holds a value.
func LeafIsSet(field reflect.Value) bool { return !isNil(field) }

// parseKey converts the text of a key leaf to its Go type.
func parseKey(leaf *yang.Entry, t reflect.Type, s string, path *gpb.Path) (reflect.Value, error) {
	v, err := parseScalar(leaf, t, s)
	if err != nil {
		return reflect.Value{}, &Error{Tag: TagInvalidValue, Path: path, Message: "key " + err.Error(), Err: err}
	}
	return v, nil
}

// parseScalar converts YANG text to a value of Go type t.
func parseScalar(leaf *yang.Entry, t reflect.Type, text string) (reflect.Value, error) {
	v := reflect.New(t).Elem()
	bad := func(why string) (reflect.Value, error) {
		return reflect.Value{}, fmt.Errorf("%q is not a valid %s: %s", text, typeName(leaf), why)
	}
	if !isEnumType(t) {
		return parseBasic(leaf, v, t, text, bad)
	}
	if en, ok := v.Interface().(ygot.GoEnum); ok {
		name := text
		if leaf.Type != nil && leaf.Type.Kind == yang.Yidentityref {
			name = stripPrefix(text)
		}
		for val, def := range en.ΛMap()[t.Name()] {
			if def.Name == name {
				v.SetInt(val)
				return v, nil
			}
		}
		return bad("not one of its values")
	}
	return parseBasic(leaf, v, t, text, bad)
}

// parseBasic converts YANG text to a string, boolean or number v of type t.
func parseBasic(leaf *yang.Entry, v reflect.Value, t reflect.Type, text string, bad func(string) (reflect.Value, error)) (reflect.Value, error) {
	switch t.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		switch text {
		case "true":
			v.SetBool(true)
		case "false":
		default:
			return bad(`a boolean is "true" or "false"`)
		}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, t.Bits())
		if err != nil {
			return bad(numErr(err))
		}
		v.SetInt(n)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(text), 10, t.Bits())
		if err != nil {
			return bad(numErr(err))
		}
		v.SetUint(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return bad(numErr(err))
		}
		v.SetFloat(f)
	default:
		return reflect.Value{}, fmt.Errorf("leaf %s: type %s is not supported", leaf.Name, t)
	}
	return v, nil
}

func numErr(err error) string {
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return "out of range"
	}
	return "not a number"
}

func typeName(leaf *yang.Entry) string {
	if leaf.Type == nil {
		return "value"
	}
	return leaf.Type.Name
}

// leafStrings returns the values of a leaf or leaf-list as the strings
// YANG would print for them.
func leafStrings(v reflect.Value) []string {
	if isNil(v) {
		return nil
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
		out := make([]string, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			out = append(out, leafString(v.Index(i)))
		}
		return out
	}
	return []string{leafString(v)}
}

func leafString(v reflect.Value) string {
	for v.Kind() == reflect.Ptr || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	// Generated enumerations are int64s; asking any other value for its
	// interface would box (allocate) it for nothing.
	if v.Kind() == reflect.Int64 {
		if e, ok := v.Interface().(ygot.GoEnum); ok {
			if name, err := ygot.EnumName(e); err == nil {
				return name
			}
		}
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	}
	return fmt.Sprint(v.Interface())
}

// integerPointer is a pointer to a new value of integer kind k, the
// magnitude n negated when neg, or nil when that is out of k's range:
// the leaf value both fast paths (text and JSON) set.
func integerPointer(k scalarKind, n uint64, neg bool) any {
	switch k {
	case scalarUint8:
		if n <= 1<<8-1 {
			v := uint8(n)
			return &v
		}
	case scalarUint16:
		if n <= 1<<16-1 {
			v := uint16(n)
			return &v
		}
	case scalarUint32:
		if n <= 1<<32-1 {
			v := uint32(n)
			return &v
		}
	case scalarUint64:
		// A copy: taking n's address would move n, and with it every
		// integer leaf's parse, to the heap.
		v := n
		return &v
	case scalarInt8, scalarInt16, scalarInt32, scalarInt64:
		limit := uint64(1) << 63
		switch k {
		case scalarInt8:
			limit = 1 << 7
		case scalarInt16:
			limit = 1 << 15
		case scalarInt32:
			limit = 1 << 31
		}
		if (neg && n > limit) || (!neg && n >= limit) {
			return nil
		}
		i := int64(n)
		if neg {
			i = -i
		}
		switch k {
		case scalarInt8:
			v := int8(i)
			return &v
		case scalarInt16:
			v := int16(i)
			return &v
		case scalarInt32:
			v := int32(i)
			return &v
		}
		v := i
		return &v
	}
	return nil
}
