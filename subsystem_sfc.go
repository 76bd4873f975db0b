package main

import (
	"log/slog"

	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/sfc"
)

// The SFC data plane of /sfc; after BFD, whose engine watches locators.
func init() {
	subsystemKinds = append(subsystemKinds, subsystemKind{
		name:  "sfc",
		order: 30,
		make: func(log *slog.Logger) (server.Subsystem, error) {
			return sfc.New(sfc.Options{Log: log}), nil
		},
	})
}
