package adapter

import (
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/events"
)

// yangDiag prints a diagnostic as the wirebeat-bfd enum names it.
type yangDiag bfd.Diag

var diagNames = [...]string{"none", "control-expiry", "echo-failed", "neighbor-down", "forwarding-reset",
	"path-down", "concatenated-path-down", "admin-down", "reverse-concatenated-path-down"}

func (d yangDiag) String() string {
	if int(d) < len(diagNames) {
		return diagNames[d]
	}
	return "none"
}

// onChange turns an engine state change into a session-state-change
// notification plus the updates of the changed state leaves. It runs under
// the engine's lock; Publish never blocks.
func (s *Subsystem) onChange(c bfd.Change) {
	k, ok := c.Tag.(sessKey)
	if !ok {
		return
	}
	leaves := []events.Leaf{}
	switch k.kind {
	case bfd.PathSingleHop:
		leaves = append(leaves, events.Leaf{Name: "session-type", Value: enumString("single-hop")},
			events.Leaf{Name: "interface", Value: k.a}, events.Leaf{Name: "dest-addr", Value: k.b})
	case bfd.PathMultiHop:
		leaves = append(leaves, events.Leaf{Name: "session-type", Value: enumString("multi-hop")},
			events.Leaf{Name: "dest-addr", Value: k.b}, events.Leaf{Name: "source-addr", Value: k.a})
	case bfd.PathSBFD:
		leaves = append(leaves, events.Leaf{Name: "session-type", Value: enumString("sbfd-initiator")},
			events.Leaf{Name: "name", Value: k.a})
	}
	leaves = append(leaves,
		events.Leaf{Name: "local-discriminator", Value: c.Discr},
		events.Leaf{Name: "remote-discriminator", Value: c.RemoteDiscr},
		events.Leaf{Name: "new-state", Value: c.New},
		events.Leaf{Name: "old-state", Value: c.Old},
		events.Leaf{Name: "diagnostic", Value: yangDiag(c.Diag)},
		events.Leaf{Name: "time", Value: c.Time.UTC().Format(time.RFC3339Nano)},
	)
	st := k.path()
	st.Elem = append(st.Elem, elem("state"))
	leafPath := func(name string) *gpb.Path {
		return &gpb.Path{Elem: append(append([]*gpb.PathElem(nil), st.Elem...), elem(name))}
	}
	str := func(v string) *gpb.TypedValue { return &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: v}} }
	ev := events.Event{
		Time: c.Time, Kind: events.Notification, Module: "wirebeat-bfd", Name: "session-state-change",
		Leaves: leaves,
		Updates: []events.Update{
			{Path: leafPath("local-state"), Value: str(c.New.String())},
			{Path: leafPath("local-diagnostic"), Value: str(yangDiag(c.Diag).String())},
			{Path: leafPath("remote-discriminator"), Value: &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: uint64(c.RemoteDiscr)}}},
		},
	}
	s.sinkFor().Publish(ev)
}

type enumString string

func (e enumString) String() string { return string(e) }
