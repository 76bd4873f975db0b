package dslite

import "github.com/wirebeat/wirebeat/softwire/netpkt"

// encap4in6 puts IPv4 packet p into IPv6 from src to dst with traffic
// class tos (RFC 2473 as RFC 6333 uses it) and hands the result to send.
// An IPv6 packet larger than mtu is sent as fragments, identification *id
// advanced (RFC 6333 §5.3: the tunnel end fragments after encapsulation
// rather than dropping or asking the IPv4 sender for a smaller MTU); it
// reports whether it fragmented. obuf takes the whole packet, fbuf one
// fragment at a time; the AFTR and the B4 pass their own, so nothing is
// allocated per packet.
func encap4in6(send func([]byte), obuf, fbuf []byte, id *uint32, mtu int, tos byte, src, dst, p []byte) (fragmented bool) {
	if 40+len(p) > mtu {
		*id++
		for off := 0; off < len(p); {
			var n int
			n, off = netpkt.Fragment6(fbuf, p, off, mtu, netpkt.ProtoIPIP, tos, src, dst, *id)
			send(fbuf[:n])
		}
		return true
	}
	h := obuf[:40+len(p)]
	netpkt.WriteIPv6Header(h, tos, len(p), netpkt.ProtoIPIP, src, dst)
	copy(h[40:], p)
	send(h)
	return false
}

// reassembled counts what adding a fragment did to a reassembly (st, n
// fragments dropped with it) in the counters of the tunnel end and
// returns the whole datagram once it is complete; ok is false while
// fragments are pending and when they were dropped or malformed.
func reassembled(whole []byte, st netpkt.ReasmStatus, n int, done, dropped, malformed *uint64) (p []byte, ok bool) {
	switch st {
	case netpkt.ReasmDone:
		*done++
		return whole, true
	case netpkt.ReasmDropped:
		*dropped += uint64(n)
	case netpkt.ReasmMalformed:
		*malformed++
	}
	return nil, false
}
