package main

import (
	"log/slog"

	"github.com/wirebeat/wirebeat/bfd/adapter"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/sfc"
	"github.com/wirebeat/wirebeat/softwire"
	"github.com/wirebeat/wirebeat/softwire/afpacket"
)

// makeSubsystems builds the engines' adapters, in the order a commit
// prepares and applies them: BFD first, so that its sessions exist before
// the softwire and SFC engines that watch them.
func makeSubsystems(log *slog.Logger) ([]server.Subsystem, error) {
	bfdSub := adapter.NewSubsystem(adapter.Options{Log: log.With("subsystem", "bfd")})
	return []server.Subsystem{
		bfdSub,
		softwire.NewLwaftrSubsystem(softwire.LwaftrOptions{Log: log.With("subsystem", "softwire-lwaftr"), Open: openAFPacket}),
		newDSLite(log.With("subsystem", "softwire-dslite")),
		// SFC locator liveness runs in the BFD engine.
		sfc.New(sfc.Options{Log: log.With("subsystem", "sfc"), BFD: bfdSub.Engine()}),
	}, nil
}

// openAFPacket opens the lwAFTR's links on live interfaces.
func openAFPacket(dev string) (softwire.Link, error) { return afpacket.Open(dev) }
