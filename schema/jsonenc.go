package schema

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

// EncodeJSON renders a tree as RFC 7951 JSON: member names qualified with
// their module where the module changes (at the top), 64-bit integers and
// decimals as strings, enumerations by name, list entries in key order.
// It is the format of the startup file and of JSON_IETF.
//
// It walks the generated structs with the cached field tables instead of
// ygot's generic emitter, which builds a map per node and round-trips it
// through encoding/json: 100,000 bindings take about fifteen times less
// time and a ninth of the memory (BenchmarkEncodeJSON100k).
func EncodeJSON(root *gen.Device) ([]byte, error) {
	e := jsonEncoder{buf: make([]byte, 0, 4096)}
	return e.encode(root)
}

func (e *jsonEncoder) encode(root *gen.Device) ([]byte, error) {
	if err := e.object(rootSchema(), rootFields(), reflect.ValueOf(root), "", 0); err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	if len(e.buf) == 0 {
		e.buf = append(e.buf, "{}"...)
	}
	return append(e.buf, '\n'), nil
}

type jsonEncoder struct {
	buf []byte
	// prev holds the text of list entries from the last encoding, keyed by
	// entry pointer; next collects it for this one. Configuration trees are
	// never modified once stored and a transaction shares the entries it
	// did not touch, so an entry with the same pointer has the same text.
	prev, next map[any][]byte
	// worker marks an encoder writing a share of a large list for
	// another: it does not split lists of its own, and with collect set
	// it lists the entry texts for the cache in texts instead of putting
	// them in next, which the other fills from the lists in order.
	worker, collect bool
	texts           []entryText
}

type entryText struct {
	key  any
	text []byte
}

// JSONCache lets successive encodings of configurations that share list
// entries reuse the text of those entries: saving a commit of one leaf next
// to a million bindings then costs a copy of bytes, not a million encodings.
type JSONCache struct {
	entries map[any][]byte
	size    int
}

// Encode renders root as EncodeJSON does, reusing and then replacing the
// cached entries.
func (c *JSONCache) Encode(root *gen.Device) ([]byte, error) {
	e := jsonEncoder{buf: make([]byte, 0, c.size+4096), prev: c.entries, next: map[any][]byte{}}
	out, err := e.encode(root)
	if err != nil {
		return nil, err
	}
	c.entries, c.size = e.next, len(out)
	return out, nil
}

func (e *jsonEncoder) indent(depth int) {
	e.buf = append(e.buf, '\n')
	for i := 0; i < depth; i++ {
		e.buf = append(e.buf, ' ', ' ')
	}
}

// object writes the struct pointer v as a JSON object, or nothing at all if
// it holds no data, so that empty containers do not clutter the file.
// module is the module of the enclosing node; si holds the fields of v.
func (e *jsonEncoder) object(schema *yang.Entry, si *structInfo, v reflect.Value, module string, depth int) error {
	if v.IsNil() {
		return nil
	}
	start := len(e.buf)
	e.buf = append(e.buf, '{')
	members := 0
	sv := v.Elem()
	for i := range si.fields {
		f := &si.fields[i]
		fv := sv.Field(f.index)
		if isNil(fv) {
			continue
		}
		mark := len(e.buf)
		if members > 0 {
			e.buf = append(e.buf, ',')
		}
		e.indent(depth + 1)
		e.buf = append(e.buf, '"')
		if f.module != module {
			e.buf = append(e.buf, f.module...)
			e.buf = append(e.buf, ':')
		}
		e.buf = append(e.buf, f.name...)
		e.buf = append(e.buf, '"', ':', ' ')
		before := len(e.buf)
		var err error
		switch f.kind {
		case FieldContainer:
			err = e.object(f.schema, f.child, fv, f.module, depth+1)
		case FieldListMap:
			err = e.listMap(f.schema, f.child, fv, f.module, depth+1)
		case FieldListSlice:
			err = e.listSlice(f.schema, f.child, fv, f.module, depth+1)
		case FieldLeafList:
			err = e.leafList(f.schema, fv)
		default:
			if !e.fastLeaf(f.scalar, fv) {
				err = e.leaf(f.schema, fv)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if len(e.buf) == before { // the member turned out empty
			e.buf = e.buf[:mark]
			continue
		}
		members++
	}
	if members == 0 {
		e.buf = e.buf[:start]
		return nil
	}
	e.indent(depth)
	e.buf = append(e.buf, '}')
	return nil
}

func (e *jsonEncoder) listMap(schema *yang.Entry, si *structInfo, m reflect.Value, module string, depth int) error {
	if m.Len() == 0 {
		return nil
	}
	entries := sortedEntries(m)
	e.buf = append(e.buf, '[')
	if err := e.entries(schema, si, entries, module, depth); err != nil {
		return err
	}
	e.indent(depth)
	e.buf = append(e.buf, ']')
	return nil
}

// parallelEntries is the number of list entries from which an encoding
// is shared out among the processors, in chunks of parallelChunk (a
// variable for tests).
var parallelEntries, parallelChunk = 8192, 2048

// entries writes the entries of a list, each after a comma but the first.
// A large list is cut into chunks that goroutines encode into buffers of
// their own, one per processor, while this one collects the buffers in
// order: the text is the one a sequential encoding writes, and the entry
// cache is filled the same way.
func (e *jsonEncoder) entries(schema *yang.Entry, si *structInfo, entries []reflect.Value, module string, depth int) error {
	if e.next != nil && len(entries) > 1024 && len(e.next) < len(entries)/4 {
		// A cache filled from (nearly) empty, as the first encoding
		// after a boot is: made to size instead of grown a million
		// entries long.
		next := make(map[any][]byte, len(e.next)+len(entries))
		for k, v := range e.next {
			next[k] = v
		}
		e.next = next
	}
	procs := runtime.GOMAXPROCS(0)
	// Entries found in the cache are copied, not encoded: sharing out a
	// list that is mostly cached would cost more than it saves.
	if e.worker || genericOnly || procs < 2 || len(entries) < parallelEntries || len(e.prev) > len(entries)/2 {
		start := len(e.buf)
		for i, v := range entries {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.indent(depth + 1)
			if err := e.entry(schema, si, v, module, depth+1); err != nil {
				return err
			}
			if i == 255 && len(entries) > 1024 {
				// The text so far says how much the rest will take.
				e.buf = slices.Grow(e.buf, (len(e.buf)-start)/256*(len(entries)-256))
			}
		}
		return nil
	}
	type chunk struct {
		buf   []byte
		texts []entryText
		err   error
		done  chan struct{}
	}
	n := (len(entries) + parallelChunk - 1) / parallelChunk
	chunks := make([]chunk, n)
	for i := range chunks {
		chunks[i].done = make(chan struct{})
	}
	work := make(chan int, n)
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	for w := 0; w < min(procs, n); w++ {
		go func() {
			for i := range work {
				c := &chunks[i]
				we := jsonEncoder{prev: e.prev, worker: true, collect: e.next != nil}
				lo, hi := i*parallelChunk, min((i+1)*parallelChunk, len(entries))
				for j := lo; j < hi && c.err == nil; j++ {
					if j > 0 {
						we.buf = append(we.buf, ',')
					}
					we.indent(depth + 1)
					c.err = we.entry(schema, si, entries[j], module, depth+1)
					if j == lo+31 {
						we.buf = slices.Grow(we.buf, len(we.buf)/32*(hi-j))
					}
				}
				c.buf, c.texts = we.buf, we.texts
				close(c.done)
			}
		}()
	}
	var err error
	for i := range chunks {
		c := &chunks[i]
		<-c.done
		if err == nil && c.err != nil {
			err = c.err
		}
		if err == nil {
			if i == 0 {
				// The first chunk says how much all will take.
				e.buf = slices.Grow(e.buf, len(c.buf)*n+len(c.buf)/8)
			}
			e.buf = append(e.buf, c.buf...)
			for _, t := range c.texts {
				e.next[t.key] = t.text
			}
		}
		c.buf, c.texts = nil, nil
	}
	return err
}

func (e *jsonEncoder) listSlice(schema *yang.Entry, si *structInfo, s reflect.Value, module string, depth int) error {
	if s.Len() == 0 {
		return nil
	}
	e.buf = append(e.buf, '[')
	for i := 0; i < s.Len(); i++ {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.indent(depth + 1)
		if err := e.entry(schema, si, s.Index(i), module, depth+1); err != nil {
			return err
		}
	}
	e.indent(depth)
	e.buf = append(e.buf, ']')
	return nil
}

// entry writes a list entry; it always has its keys, so it is never empty.
func (e *jsonEncoder) entry(schema *yang.Entry, si *structInfo, v reflect.Value, module string, depth int) error {
	var key any
	if (e.next != nil || e.collect) && v.Kind() == reflect.Ptr {
		key = v.Interface()
		if text, ok := e.prev[key]; ok {
			e.buf = append(e.buf, text...)
			e.keep(key, text)
			return nil
		}
	}
	before := len(e.buf)
	if err := e.object(schema, si, v, module, depth); err != nil {
		return err
	}
	if len(e.buf) == before {
		e.buf = append(e.buf, "{}"...)
	}
	if key != nil {
		e.keep(key, append([]byte(nil), e.buf[before:]...))
	}
	return nil
}

// keep records the text of an entry for the next encoding.
func (e *jsonEncoder) keep(key any, text []byte) {
	if e.collect {
		e.texts = append(e.texts, entryText{key, text})
		return
	}
	e.next[key] = text
}

func (e *jsonEncoder) leafList(schema *yang.Entry, s reflect.Value) error {
	e.buf = append(e.buf, '[')
	for i := 0; i < s.Len(); i++ {
		if i > 0 {
			e.buf = append(e.buf, ',', ' ')
		}
		if err := e.scalar(schema, s.Index(i)); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

func (e *jsonEncoder) leaf(schema *yang.Entry, v reflect.Value) error {
	if v.Type() == reflect.TypeOf(gen.YANGEmpty(false)) {
		if v.Bool() {
			e.buf = append(e.buf, "[null]"...)
		}
		return nil
	}
	if v.Type() == reflect.TypeOf(gen.Binary(nil)) {
		e.buf = append(e.buf, '"')
		e.buf = base64.StdEncoding.AppendEncode(e.buf, v.Bytes())
		e.buf = append(e.buf, '"')
		return nil
	}
	return e.scalar(schema, v)
}

// fastLeaf writes a set leaf of a plain Go type (a pointer to a string,
// boolean or integer of up to 32 bits) and reports whether it did; the
// others go through leaf.
func (e *jsonEncoder) fastLeaf(k scalarKind, v reflect.Value) bool {
	if genericOnly {
		return false
	}
	switch k {
	case scalarString:
		e.buf = appendJSONString(e.buf, v.Elem().String())
	case scalarBool:
		e.buf = strconv.AppendBool(e.buf, v.Elem().Bool())
	case scalarUint8, scalarUint16, scalarUint32:
		e.buf = strconv.AppendUint(e.buf, v.Elem().Uint(), 10)
	case scalarInt8, scalarInt16, scalarInt32:
		e.buf = strconv.AppendInt(e.buf, v.Elem().Int(), 10)
	default:
		return false
	}
	return true
}

// scalar writes one value: a pointer to a Go scalar, an enumeration, or a
// union interface holding either.
func (e *jsonEncoder) scalar(schema *yang.Entry, v reflect.Value) error {
	for v.Kind() == reflect.Ptr || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	// Enumerations are int64s; asking other values for their interface
	// would box them for nothing.
	if v.Kind() == reflect.Int64 {
		if en, ok := v.Interface().(ygot.GoEnum); ok {
			def, ok := en.ΛMap()[reflect.TypeOf(en).Name()][v.Int()]
			if !ok {
				return fmt.Errorf("enumeration value %d out of range", v.Int())
			}
			name := def.Name
			if schema.Type != nil && schema.Type.Kind == yang.Yidentityref && def.DefiningModule != "" {
				name = def.DefiningModule + ":" + name
			}
			e.buf = appendJSONString(e.buf, name)
			return nil
		}
	}
	switch v.Kind() {
	case reflect.String:
		e.buf = appendJSONString(e.buf, v.String())
	case reflect.Bool:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
	case reflect.Int8, reflect.Int16, reflect.Int32:
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
	case reflect.Int64, reflect.Int: // RFC 7951 section 6.1: as strings
		e.buf = append(e.buf, '"')
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
		e.buf = append(e.buf, '"')
	case reflect.Uint64, reflect.Uint:
		e.buf = append(e.buf, '"')
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
		e.buf = append(e.buf, '"')
	case reflect.Float64: // decimal64, as a string
		e.buf = append(e.buf, '"')
		e.buf = strconv.AppendFloat(e.buf, v.Float(), 'f', -1, 64)
		e.buf = append(e.buf, '"')
	default:
		return fmt.Errorf("cannot encode %s", v.Type())
	}
	return nil
}

// appendJSONString appends s as a JSON string (RFC 8259 section 7),
// replacing invalid UTF-8 with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
