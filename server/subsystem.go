package server

import (
	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
)

// Subsystem is what an engine's adapter implements so that configuration
// reaches it and its state reaches the tree. The method set uses only gen,
// gNMI path and events types: an adapter satisfies it without importing
// this package.
type Subsystem interface {
	// Name identifies the subsystem in logs and errors ("bfd", "softwire").
	Name() string

	// Validate checks what YANG cannot express (overlapping port sets, a
	// secret too long for its authentication type). It must not change
	// anything. An error should be an *schema.Error naming the offending path.
	Validate(candidate *gen.Device) error

	// Apply moves the engine from configuration old to new. old is an
	// empty tree on the first commit. If Apply fails it must leave the
	// engine as it was under old; the server then reverts the subsystems
	// already applied by calling their Apply(new, old). Both trees are
	// read-only.
	Apply(old, new *gen.Device) error

	// State fills the config-false leaves of root, creating the list
	// entries they belong to, only under the given paths (all of them when
	// paths is empty): rendering a million bindings to answer one leaf is
	// not acceptable.
	State(root *gen.Device, paths []*gpb.Path) error

	// Attach hands the subsystem the sink for its events. It is called once,
	// before the first Apply.
	Attach(sink events.Sink)
}

// Closer is implemented by subsystems that hold resources (sockets,
// goroutines) to release when the element stops.
type Closer interface {
	Close() error
}
