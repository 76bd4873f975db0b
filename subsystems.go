package main

import (
	"fmt"
	"log/slog"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/server"
)

// subsystemKind builds the adapter of one engine. Each engine is wired by a
// file of its own (subsystem_<name>.go) that appends its kind in an init
// function; order gives the order of Apply in a commit.
type subsystemKind struct {
	name  string
	order int // bfd 10, softwire 20, sfc 30: BFD sessions exist before what uses them
	make  func(log *slog.Logger) (server.Subsystem, error)
}

var subsystemKinds []subsystemKind

func makeSubsystems(log *slog.Logger) ([]server.Subsystem, error) {
	kinds := append([]subsystemKind(nil), subsystemKinds...)
	for i := 1; i < len(kinds); i++ { // few kinds: insertion sort by order
		for j := i; j > 0 && kinds[j].order < kinds[j-1].order; j-- {
			kinds[j], kinds[j-1] = kinds[j-1], kinds[j]
		}
	}
	var subs []server.Subsystem
	for _, k := range kinds {
		s, err := k.make(log.With("subsystem", k.name))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.name, err)
		}
		subs = append(subs, s)
	}
	// Engines that watch BFD sessions (SFC locator liveness) share the
	// BFD engine: one discriminator space, one timer heap.
	for _, s := range subs {
		if b, ok := s.(interface{ Engine() *bfd.Engine }); ok {
			for _, u := range subs {
				if w, ok := u.(interface{ UseBFD(*bfd.Engine) }); ok {
					w.UseBFD(b.Engine())
				}
			}
		}
	}
	return subs, nil
}
