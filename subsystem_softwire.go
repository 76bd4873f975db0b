package main

import (
	"log/slog"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/softwire"
)

// The lwAFTR of /softwire/lwaftr, forwarding on pktio ports (AF_PACKET rings).
func init() {
	subsystemKinds = append(subsystemKinds, subsystemKind{
		name:  "softwire-lwaftr",
		order: 20,
		make: func(log *slog.Logger) (server.Subsystem, error) {
			return softwire.NewLwaftrSubsystem(log, func(dev string) (softwire.Link, error) {
				return pktio.Open(dev, pktio.Config{})
			}), nil
		},
	})
}
