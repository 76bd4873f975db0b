package main

import (
	"log/slog"

	"github.com/wirebeat/wirebeat/softwire"
	"github.com/wirebeat/wirebeat/softwire/afpacket"
)

// newDSLite is the DS-Lite AFTR (/softwire/aftr) and B4 (/softwire/b4).
// Until the shared packet-I/O layer (pktio) is in this tree they run on
// the lwAFTR's AF_PACKET links, each frame written at once.
func newDSLite(log *slog.Logger) *softwire.DSLiteSubsystem {
	return softwire.NewDSLiteSubsystem(softwire.DSLiteOptions{Log: log,
		Open: func(dev string) (softwire.DSLitePort, error) {
			l, err := afpacket.Open(dev)
			if err != nil {
				return nil, err
			}
			return writePort{l}, nil
		}})
}

// writePort queues nothing: Send writes the frame, Flush has nothing to do.
type writePort struct{ *afpacket.Link }

func (p writePort) Send(frame []byte) bool { return p.Write(frame) == nil }
func (p writePort) Flush() error           { return nil }
