package transport

import (
	"errors"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/sfc/node"
)

// RunIP receives IP packets from port (a pktio TUN port: the routing
// interface, or the proxy's from-interface) in batches until the port
// closes. Each packet is copied into a buffer with node.Headroom before
// it, where the data plane writes the NSH it pushes, and handed to fn;
// after each batch done runs (to send what the batch queued).
func RunIP(port pktio.Port, fn func(buf []byte, off int), done func()) error {
	b := pktio.NewBatch(pktio.DefaultBatch)
	buf := make([]byte, node.Headroom+65536)
	for {
		err := port.Receive(b)
		got := len(b.Frames)
		for _, f := range b.Frames {
			n := copy(buf[node.Headroom:], f)
			fn(buf[:node.Headroom+n], node.Headroom)
		}
		port.Release(b)
		if got > 0 {
			done()
		}
		if err != nil {
			if errors.Is(err, pktio.ErrClosed) {
				return nil
			}
			return err
		}
	}
}
