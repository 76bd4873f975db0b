package main

import (
	"log/slog"

	"github.com/wirebeat/wirebeat/bfd/adapter"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/softwire"
	"github.com/wirebeat/wirebeat/softwire/afpacket"
)

// makeSubsystems builds the engines' adapters, in the order a commit
// prepares and applies them: BFD first, so that its sessions exist before
// the softwire and SFC engines that watch them.
func makeSubsystems(log *slog.Logger) ([]server.Subsystem, error) {
	return []server.Subsystem{
		adapter.NewSubsystem(adapter.Options{Log: log.With("subsystem", "bfd")}),
		softwire.NewLwaftrSubsystem(softwire.LwaftrOptions{Log: log.With("subsystem", "softwire-lwaftr"), Open: openAFPacket}),
		newDSLite(log.With("subsystem", "softwire-dslite")),
	}, nil
}

// openAFPacket opens the lwAFTR's links on live interfaces.
func openAFPacket(dev string) (softwire.Link, error) { return afpacket.Open(dev) }
