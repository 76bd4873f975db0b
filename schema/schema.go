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

// rootFields returns the fields of the root struct, and through their
// child links those of the whole tree.
func rootFields() *structInfo {
	return fieldsOf(rootSchema(), reflect.TypeOf(gen.Device{}))
}

// Clone returns a deep copy of a tree.
func Clone(root *gen.Device) (*gen.Device, error) {
	return deepCopy(reflect.ValueOf(root), nil).Interface().(*gen.Device), nil
}
