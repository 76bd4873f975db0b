package main

import (
	"log/slog"

	"github.com/wirebeat/wirebeat/bfd/adapter"
	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/sfc"
	"github.com/wirebeat/wirebeat/softwire"
)

// makeSubsystems builds the engines' adapters, in the order a commit
// prepares and applies them: BFD first, so that its sessions exist before
// the softwire and SFC engines that watch them.
func makeSubsystems(log *slog.Logger) ([]server.Subsystem, error) {
	bfdSub := adapter.NewSubsystem(adapter.Options{Log: log.With("subsystem", "bfd")})
	return []server.Subsystem{
		bfdSub,
		softwire.NewLwaftrSubsystem(softwire.LwaftrOptions{Log: log.With("subsystem", "softwire-lwaftr"), OpenDriver: openPort(log)}),
		newDSLite(log.With("subsystem", "softwire-dslite")),
		softwire.NewLwB4Subsystem(softwire.LwB4Options{Log: log.With("subsystem", "softwire-lwb4")}),
		// SFC locator liveness runs in the BFD engine.
		sfc.New(sfc.Options{Log: log.With("subsystem", "sfc"), BFD: bfdSub.Engine()}),
	}, nil
}

// openPort opens the lwAFTR's links on live interfaces with the pktio
// driver the configuration names.
func openPort(log *slog.Logger) softwire.OpenDriverLink {
	return func(dev, driver string, w, n int) (softwire.Link, error) {
		return pktio.Open(dev, pktio.Config{Driver: driver, Queue: w, Fanout: n > 1, Log: log.With("subsystem", "pktio")})
	}
}
