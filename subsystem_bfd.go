package main

import (
	"log/slog"

	"github.com/wirebeat/wirebeat/bfd/adapter"
	"github.com/wirebeat/wirebeat/server"
)

// The BFD engine comes first in a commit: sessions exist before the
// softwire and SFC engines that watch them.
func init() {
	subsystemKinds = append(subsystemKinds, subsystemKind{
		name:  "bfd",
		order: 10,
		make: func(log *slog.Logger) (server.Subsystem, error) {
			return adapter.New(adapter.Options{Log: log}), nil
		},
	})
}
