// Package events defines what the engines and the element core tell the
// management front ends about: YANG notifications, changes of state leaves
// and configuration commits.
//
// It is a leaf package so that engines can publish events without importing
// the server: an engine holds a Sink, the server's event hub implements it.
package events

import (
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// Kind says what an Event describes.
type Kind uint8

const (
	// Notification is a YANG notification of one of our modules (for
	// example wirebeat-bfd:session-state-change). NETCONF renders it as a
	// <notification>; gNMI subscribers see its Updates.
	Notification Kind = iota + 1
	// StateChange is a change of config-false leaves without a YANG
	// notification of its own (a counter crossing, a liveness flag).
	StateChange
	// ConfigChange is a commit to the running datastore.
	ConfigChange
)

func (k Kind) String() string {
	switch k {
	case Notification:
		return "notification"
	case StateChange:
		return "state-change"
	case ConfigChange:
		return "config-change"
	}
	return "unknown"
}

// Leaf is one leaf of a notification body, in schema order. Value is a Go
// string, bool, signed or unsigned integer, or a fmt.Stringer for enums.
type Leaf struct {
	Name  string
	Value any
}

// Update is one changed data-tree path. A nil Value means the node was
// deleted (a list entry went away).
type Update struct {
	Path  *gpb.Path
	Value *gpb.TypedValue
}

// Edit is one configuration change of a commit, as RFC 6470
// netconf-config-change reports it.
type Edit struct {
	Path      *gpb.Path
	Operation string // "create", "delete", "replace" or "merge"
}

// Event is one thing that happened, stamped with the time it happened.
type Event struct {
	Time time.Time
	Kind Kind

	// Module and Name identify the YANG notification (Kind Notification).
	Module string
	Name   string
	Leaves []Leaf

	// Updates are the state or config paths this event changed; gNMI
	// ON_CHANGE subscriptions are served from them.
	Updates []Update

	// Commit describes a ConfigChange.
	Commit *Commit
}

// Commit describes who changed the running configuration and how.
type Commit struct {
	ID        uint64 // position in the rollback history
	User      string
	SessionID uint32
	Transport string // "netconf", "gnmi", "cli" or "system"
	Edits     []Edit
	// Truncated is set when Edits was cut to a summary because the commit
	// changed more nodes than a notification should carry.
	Truncated bool
}

// Sink receives events. Publish must not block: implementations queue or
// drop, they never make the publisher wait on a consumer.
type Sink interface {
	Publish(Event)
}

// Discard is a Sink that drops everything; engines use it when nothing is
// attached (tools, benchmarks).
type Discard struct{}

// Publish drops e.
func (Discard) Publish(Event) {}
