package lwaftr

import "github.com/wirebeat/wirebeat/softwire/netpkt"

// The lwAFTR reassembles with the shared reassembler.
type reassembler = netpkt.Reassembler

func newReassembler(maxPackets, maxFrags int) *reassembler {
	return netpkt.NewReassembler(maxPackets, maxFrags)
}

// reassembled counts the outcome of one fragment on side and returns the
// whole packet when it completed one.
func (e *Engine) reassembled(side Port, whole []byte, st netpkt.ReasmStatus, dropped int) ([]byte, bool) {
	switch st {
	case netpkt.ReasmDone:
		e.C.ReassembledPackets[side]++
		return whole, true
	case netpkt.ReasmDropped:
		e.C.DropFragments[side] += uint64(dropped)
	case netpkt.ReasmMalformed:
		e.C.DropMalformed[side]++
	}
	return nil, false
}
