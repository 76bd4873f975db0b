package server

import (
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// Subsystem is what an engine's adapter implements so that configuration
// reaches it and its state reaches the tree. The method set uses only gen,
// schema, gNMI path and events types: an adapter satisfies it without
// importing this package.
//
// A commit reaches a subsystem in two phases, as in FRR's northbound
// (prepare, then abort or apply): the core computes the changes once,
// hands each subsystem those under the subtrees it owns, and calls
// Prepare on every one of them before it applies any. A commit refused in
// Prepare therefore leaves every engine as it was, with nothing to revert.
type Subsystem interface {
	// Name identifies the subsystem in logs and errors ("bfd", "softwire").
	Name() string

	// Owns lists the subtrees whose changes the subsystem receives
	// (/bfd, /softwire/lwaftr). The first one is where an error without a
	// path of its own is reported.
	Owns() []*gpb.Path

	// Prepare checks the changes (what YANG cannot express: overlapping
	// port sets, a secret too long for its authentication type) and
	// reserves what Apply will need (sockets, table space), so that Apply
	// cannot fail. It must not change what the engine does. An error
	// should be a *schema.Error naming the offending path. Prepare is
	// followed by exactly one Abort or Apply with the same ChangeSet;
	// NETCONF <validate> is a Prepare and an Abort.
	Prepare(cs *schema.ChangeSet) error

	// Abort releases what Prepare reserved: the commit does not happen.
	Abort(cs *schema.ChangeSet)

	// Apply moves the engine to cs.New. It cannot fail: everything that
	// could was checked or reserved in Prepare.
	Apply(cs *schema.ChangeSet)

	// State fills the config-false leaves of root, creating the list
	// entries they belong to, only under the given paths (all of them when
	// paths is empty): rendering a million bindings to answer one leaf is
	// not acceptable.
	State(root *gen.Device, paths []*gpb.Path) error

	// Attach hands the subsystem the sink for its events. It is called once,
	// before the first Prepare.
	Attach(sink events.Sink)
}

// Closer is implemented by subsystems that hold resources (sockets,
// goroutines) to release when the element stops.
type Closer interface {
	Close() error
}

// eventGate is the sink the subsystems publish through. While a commit is
// being applied it holds their events back, and releases them after the
// commit's own config-change event: a subscriber learns of the
// configuration before the state changes it caused.
type eventGate struct {
	hub     *Hub
	mu      sync.Mutex
	holding bool
	held    []events.Event
}

// Publish implements events.Sink.
func (g *eventGate) Publish(e events.Event) {
	g.mu.Lock()
	if g.holding {
		g.held = append(g.held, e)
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	g.hub.Publish(e)
}

// hold starts holding events back.
func (g *eventGate) hold() {
	g.mu.Lock()
	g.holding = true
	g.mu.Unlock()
}

// release publishes first, then the events held back, and stops holding.
// The hub never blocks, so publishing under the lock keeps the order
// against concurrent publishers without making them wait long.
func (g *eventGate) release(first events.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hub.Publish(first)
	for _, e := range g.held {
		g.hub.Publish(e)
	}
	g.held, g.holding = nil, false
}
