package main

import (
	"log/slog"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/softwire"
)

// newDSLite is the DS-Lite AFTR (/softwire/aftr) and B4 (/softwire/b4),
// on the shared packet-I/O layer.
func newDSLite(log *slog.Logger) *softwire.DSLiteSubsystem {
	return softwire.NewDSLiteSubsystem(softwire.DSLiteOptions{Log: log,
		Open: func(dev string) (softwire.DSLitePort, error) {
			return pktio.Open(dev, pktio.Config{Log: log.With("subsystem", "pktio")})
		}})
}
