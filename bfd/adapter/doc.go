// Package adapter connects the BFD engine to the element's tree: it turns
// /bfd configuration (profiles, single-hop and multi-hop sessions) into
// engine sessions and UDP transports, renders their state and counters into
// the tree for the paths a client asks about, and publishes every session
// state change as a wirebeat-bfd:session-state-change notification with
// the changed state leaves as updates. It implements server.Subsystem.
package adapter
