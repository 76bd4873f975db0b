package schema

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

// maxJSONDepth bounds nesting, so that hostile input cannot exhaust the
// stack; our schema is far shallower.
const maxJSONDepth = 64

// DecodeJSON parses RFC 7951 JSON (module-qualified or not) into a new
// tree. Unknown members are errors: a configuration that names something
// this element does not know must not be half applied.
//
// It reads the bytes once, straight into the generated structs through
// the cached field tables. ygot's generic unmarshaller, which it replaces,
// first builds a map per node with encoding/json and then formats debug
// text for every field it sets: a million bindings took minutes and
// gigabytes (BenchmarkDecodeJSON compares the two).
func DecodeJSON(data []byte) (*gen.Device, error) {
	root := &gen.Device{}
	d := jsonDecoder{data: data}
	d.ws()
	if err := d.object(rootSchema(), rootFields(), reflect.ValueOf(root), "", 0); err != nil {
		return nil, d.fail(err)
	}
	d.ws()
	if d.pos != len(d.data) {
		return nil, d.fail(errors.New("data after the top-level object"))
	}
	return root, nil
}

// decodeValueJSON parses the RFC 7951 JSON of one node's value, as
// EncodeMatchJSON writes it with ietf set: an object into a new struct of
// pointer type t for containers and list entries, a scalar for a leaf of
// field type t, an array for a leaf-list.
func decodeValueJSON(schema *yang.Entry, t reflect.Type, module string, data []byte) (reflect.Value, error) {
	d := jsonDecoder{data: data}
	d.ws()
	var v reflect.Value
	var err error
	switch {
	case t.Kind() == reflect.Ptr && t.Elem().Kind() == reflect.Struct:
		v = reflect.New(t.Elem())
		err = d.object(schema, fieldsOf(schema, t.Elem()), v, module, 0)
	case t.Kind() == reflect.Slice && t != reflect.TypeOf(gen.Binary(nil)):
		v = reflect.New(t).Elem()
		err = d.array(func() error {
			e, err := d.scalar(schema, t.Elem())
			if err == nil {
				v.Set(reflect.Append(v, e))
			}
			return err
		})
	default:
		v = reflect.New(t).Elem()
		err = d.leaf(schema, v)
	}
	if err == nil {
		d.ws()
		if d.pos != len(d.data) {
			err = errors.New("data after the value")
		}
	}
	if err != nil {
		return reflect.Value{}, d.fail(err)
	}
	return v, nil
}

type jsonDecoder struct {
	data []byte
	pos  int
	buf  []byte
}

func (d *jsonDecoder) fail(err error) error {
	return &Error{Tag: TagInvalidValue, Message: fmt.Sprintf("configuration does not match the schema: at byte %d: %v", d.pos, err), Err: err}
}

func (d *jsonDecoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonDecoder) peek() byte {
	d.ws()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *jsonDecoder) expect(c byte) error {
	if d.peek() != c {
		return fmt.Errorf("want %q", c)
	}
	d.pos++
	return nil
}

// object reads a JSON object into the struct pointer v, whose fields si
// describes.
func (d *jsonDecoder) object(schema *yang.Entry, si *structInfo, v reflect.Value, module string, depth int) error {
	if depth > maxJSONDepth {
		return errors.New("nested too deeply")
	}
	if err := d.expect('{'); err != nil {
		return err
	}
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		f, err := d.member(schema, si)
		if err != nil {
			return err
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		if err := d.field(f, v.Elem().Field(f.index), depth); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return errors.New("want , or }")
		}
	}
}

// member reads the name of an object member and finds its field: the
// name is looked up in the bytes, without making a string of it, unless
// it holds escapes.
func (d *jsonDecoder) member(schema *yang.Entry, si *structInfo) (*fieldInfo, error) {
	if err := d.expect('"'); err != nil {
		return nil, err
	}
	start, colon := d.pos, -1
	for d.pos < len(d.data) && !genericOnly {
		c := d.data[d.pos]
		if c == '"' {
			raw := d.data[start:d.pos]
			d.pos++
			local := raw
			if colon >= 0 {
				local = raw[colon+1:]
			}
			j, ok := si.byName[string(local)]
			if !ok {
				return nil, fmt.Errorf("%s has no member %q", nodeName(schema), raw)
			}
			f := &si.fields[j]
			if colon > 0 && string(raw[:colon]) != f.module {
				return nil, fmt.Errorf("member %q: %s is defined by module %s", raw, local, f.module)
			}
			return f, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		if c == ':' && colon < 0 {
			colon = d.pos - start
		}
		d.pos++
	}
	// Escapes or non-ASCII text: the general string reader.
	d.pos = start - 1
	name, err := d.str()
	if err != nil {
		return nil, err
	}
	mod, local := "", name
	for i := 0; i < len(name); i++ {
		if name[i] == ':' {
			mod, local = name[:i], name[i+1:]
			break
		}
	}
	j, ok := si.byName[local]
	if !ok {
		return nil, fmt.Errorf("%s has no member %q", nodeName(schema), name)
	}
	f := &si.fields[j]
	if mod != "" && mod != f.module {
		return nil, fmt.Errorf("member %q: %s is defined by module %s", name, local, f.module)
	}
	return f, nil
}

func (d *jsonDecoder) field(f *fieldInfo, fv reflect.Value, depth int) error {
	switch f.kind {
	case FieldContainer:
		if fv.IsNil() {
			fv.Set(reflect.New(fv.Type().Elem()))
		}
		return d.object(f.schema, f.child, fv, f.module, depth+1)
	case FieldListMap:
		return d.listMap(f, fv, depth)
	case FieldListSlice:
		return d.array(func() error {
			entry := reflect.New(fv.Type().Elem().Elem())
			if err := d.object(f.schema, f.child, entry, f.module, depth+1); err != nil {
				return err
			}
			fv.Set(reflect.Append(fv, entry))
			return nil
		})
	case FieldLeafList:
		return d.array(func() error {
			v, err := d.scalar(f.schema, fv.Type().Elem())
			if err != nil {
				return err
			}
			fv.Set(reflect.Append(fv, v))
			return nil
		})
	}
	if f.scalar != scalarOther && !genericOnly {
		if ok, err := d.fastLeaf(f.scalar, fv); ok || err != nil {
			return err
		}
	}
	return d.leaf(f.schema, fv)
}

// listMap reads the entries of a keyed list. They are gathered first and
// put in a map made to their number, which saves growing a map of a
// million entries step by step; the key is read from each entry's leaves
// into one reused value (the map copies it).
func (d *jsonDecoder) listMap(f *fieldInfo, fv reflect.Value, depth int) error {
	et := fv.Type().Elem().Elem()
	var entries []reflect.Value
	var ends []int
	err := d.array(func() error {
		entry := reflect.New(et)
		if err := d.object(f.schema, f.child, entry, f.module, depth+1); err != nil {
			return err
		}
		entries = append(entries, entry)
		ends = append(ends, d.pos)
		return nil
	})
	if err != nil || len(entries) == 0 {
		return err
	}
	m := fv
	if m.IsNil() {
		m = reflect.MakeMapWithSize(fv.Type(), len(entries))
	}
	var k reflect.Value
	if f.key != nil {
		k = reflect.New(fv.Type().Key()).Elem()
	}
	for i, entry := range entries {
		key := k
		if f.key == nil || genericOnly || !f.key.fill(entry, k) {
			if key, err = keyOfEntry(entry, fv.Type().Key()); err != nil {
				d.pos = ends[i]
				return err
			}
		}
		n := m.Len()
		m.SetMapIndex(key, entry)
		if m.Len() == n {
			d.pos = ends[i]
			return fmt.Errorf("list entry %v is given twice", key.Interface())
		}
	}
	fv.Set(m)
	return nil
}

// fastLeaf reads the value of a leaf of a plain Go type straight into its
// field, without the generic path's intermediate values: a string, or an
// integer written as plain decimal digits. ok is false, with nothing
// consumed, for anything else (quoted or signed numbers, exponents, out
// of range values), which the generic path then reads and explains.
func (d *jsonDecoder) fastLeaf(k scalarKind, fv reflect.Value) (ok bool, err error) {
	if k == scalarString {
		s, err := d.str()
		if err != nil {
			return false, err
		}
		fv.Set(reflect.ValueOf(&s))
		return true, nil
	}
	if k == scalarBool {
		return false, nil
	}
	d.ws()
	start := d.pos
	neg := false
	if d.pos < len(d.data) && d.data[d.pos] == '-' && k >= scalarInt8 {
		neg = true
		d.pos++
	}
	var n uint64
	digits := 0
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' && digits < 19 {
		n = n*10 + uint64(d.data[d.pos]-'0')
		d.pos++
		digits++
	}
	if digits == 0 || (d.pos < len(d.data) && isNumberByte(d.data[d.pos])) {
		d.pos = start
		return false, nil
	}
	p := integerPointer(k, n, neg)
	if p == nil {
		d.pos = start
		return false, nil
	}
	fv.Set(reflect.ValueOf(p))
	return true, nil
}

func isNumberByte(c byte) bool {
	return c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9')
}

// leaf reads the value of a leaf into its field.
func (d *jsonDecoder) leaf(schema *yang.Entry, fv reflect.Value) error {
	t := fv.Type()
	switch {
	case t == reflect.TypeOf(gen.YANGEmpty(false)):
		// RFC 7951 section 6.9: [null]
		if err := d.expect('['); err != nil {
			return err
		}
		if !d.literal("null") {
			return errors.New("an empty leaf is [null]")
		}
		fv.SetBool(true)
		return d.expect(']')
	case t == reflect.TypeOf(gen.Binary(nil)):
		s, err := d.str()
		if err != nil {
			return err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("binary: %v", err)
		}
		fv.SetBytes(b)
		return nil
	case t.Kind() == reflect.Ptr:
		v, err := d.scalar(schema, t.Elem())
		if err != nil {
			return err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(v)
		fv.Set(p)
		return nil
	}
	v, err := d.scalar(schema, t) // enumerations
	if err != nil {
		return err
	}
	fv.Set(v)
	return nil
}

// scalar reads one value of Go type t: strings, booleans and 8 to 32-bit
// integers as JSON has them, 64-bit integers and decimal64 as strings
// (RFC 7951 section 6.1; numbers are accepted too), enumerations and
// identities by name through the one text codec.
func (d *jsonDecoder) scalar(schema *yang.Entry, t reflect.Type) (reflect.Value, error) {
	if t.Kind() == reflect.String || isEnumType(t) {
		s, err := d.str()
		if err != nil {
			return reflect.Value{}, err
		}
		return parseScalar(schema, t, s)
	}
	switch t.Kind() {
	case reflect.Bool:
		v := reflect.New(t).Elem()
		switch {
		case d.literal("true"):
			v.SetBool(true)
		case d.literal("false"):
		default:
			return v, errors.New("want true or false")
		}
		return v, nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float64:
		var text string
		if d.peek() == '"' {
			s, err := d.str()
			if err != nil {
				return reflect.Value{}, err
			}
			text = s
		} else {
			start := d.pos
			for d.pos < len(d.data) && (d.data[d.pos] == '-' || d.data[d.pos] == '+' || d.data[d.pos] == '.' ||
				d.data[d.pos] == 'e' || d.data[d.pos] == 'E' || (d.data[d.pos] >= '0' && d.data[d.pos] <= '9')) {
				d.pos++
			}
			if d.pos == start {
				return reflect.Value{}, errors.New("want a number")
			}
			text = string(d.data[start:d.pos])
		}
		return parseScalar(schema, t, text)
	}
	return reflect.Value{}, fmt.Errorf("type %s is not supported", t)
}

func (d *jsonDecoder) literal(word string) bool {
	d.ws()
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return true
	}
	return false
}

// array calls each for every element of a JSON array.
func (d *jsonDecoder) array(each func() error) error {
	if err := d.expect('['); err != nil {
		return err
	}
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for {
		if err := each(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return errors.New("want , or ]")
		}
	}
}

// str reads a JSON string (RFC 8259 section 7).
func (d *jsonDecoder) str() (string, error) {
	if err := d.expect('"'); err != nil {
		return "", err
	}
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := string(d.data[start:d.pos])
			d.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.pos++
	}
	// The slow path: escapes or non-ASCII text.
	b := append(d.buf[:0], d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			d.buf = b
			return string(b), nil
		case c < 0x20:
			return "", errors.New("control character in a string")
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return "", errors.New("unterminated escape")
			}
			e := d.data[d.pos+1]
			d.pos += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, err := d.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
						d.pos += 2
						if r2, err = d.hex4(); err != nil {
							return "", err
						}
					}
					r = utf16.DecodeRune(r, r2)
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", fmt.Errorf("bad escape \\%c", e)
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", errors.New("invalid UTF-8 in a string")
			}
			b = append(b, d.data[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
	return "", errors.New("unterminated string")
}

func (d *jsonDecoder) hex4() (rune, error) {
	if d.pos+4 > len(d.data) {
		return 0, errors.New("short \\u escape")
	}
	n, err := strconv.ParseUint(string(d.data[d.pos:d.pos+4]), 16, 16)
	if err != nil {
		return 0, errors.New("bad \\u escape")
	}
	d.pos += 4
	return rune(n), nil
}

var goEnumType = reflect.TypeOf((*ygot.GoEnum)(nil)).Elem()

// isEnumType reports whether t is a generated enumeration.
func isEnumType(t reflect.Type) bool { return t.Kind() == reflect.Int64 && t.Implements(goEnumType) }
