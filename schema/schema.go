package schema

import (
	"reflect"

	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
)

// rootSchema is the schema of the whole tree: ygot's fake root "device",
// whose children are the top containers of our modules.
func rootSchema() *yang.Entry {
	return gen.SchemaTree["Device"]
}

// DecodeJSON parses RFC 7951 JSON (module-qualified or not) into a new
// tree. Unknown members are errors: a configuration that names something
// this element does not know must not be half applied.
func DecodeJSON(data []byte) (*gen.Device, error) {
	root := &gen.Device{}
	if err := gen.Unmarshal(data, root); err != nil {
		return nil, &Error{Tag: TagInvalidValue, Message: "configuration does not match the schema: " + err.Error(), Err: err}
	}
	return root, nil
}

// Clone returns a deep copy of a tree.
func Clone(root *gen.Device) (*gen.Device, error) {
	return deepCopy(reflect.ValueOf(root), nil).Interface().(*gen.Device), nil
}
