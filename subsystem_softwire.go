package main

import (
	"log/slog"

	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/softwire"
	"github.com/wirebeat/wirebeat/softwire/afpacket"
)

// The lwAFTR of /softwire/lwaftr, forwarding on AF_PACKET sockets.
func init() {
	subsystemKinds = append(subsystemKinds, subsystemKind{
		name:  "softwire-lwaftr",
		order: 20,
		make: func(log *slog.Logger) (server.Subsystem, error) {
			return softwire.NewLwaftrSubsystem(log, func(dev string) (softwire.Link, error) {
				return afpacket.Open(dev)
			}), nil
		},
	})
}
