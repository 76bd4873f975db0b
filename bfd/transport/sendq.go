package transport

import (
	"net"

	"golang.org/x/net/ipv4"

	"github.com/wirebeat/wirebeat/bfd"
)

// sendQueueLen is how many packets one sendmmsg carries at most.
const sendQueueLen = 256

// sendQueue is a batch of outgoing packets with all its storage
// preallocated, so queueing a packet allocates nothing.
type sendQueue struct {
	msgs []ipv4.Message
	bufs [][bfd.MaxLen]byte
	ips  [][16]byte
	oobs [][40]byte // IP(V6)_PKTINFO choosing the source with AnyLocal
	n    int
}

func newSendQueue(size int) *sendQueue {
	q := &sendQueue{
		msgs: make([]ipv4.Message, size),
		bufs: make([][bfd.MaxLen]byte, size),
		ips:  make([][16]byte, size),
		oobs: make([][40]byte, size),
	}
	for i := range q.msgs {
		q.msgs[i].Buffers = [][]byte{nil}
		q.msgs[i].Addr = &net.UDPAddr{}
	}
	return q
}
