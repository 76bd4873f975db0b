package lwaftr

import (
	"encoding/binary"
	"testing"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// serviceSource is an UnknownSource with a switchable in-service state.
type serviceSource struct{ in bool }

func (s *serviceSource) Unknown([]byte, uint32, uint16) UnknownVerdict { return UnknownDefault }
func (s *serviceSource) UnknownDestination([]byte, uint32, uint16) UnknownVerdict {
	return UnknownDefault
}
func (s *serviceSource) Poll(*Engine)    {}
func (s *serviceSource) InService() bool { return s.in }

// nsFrame is a neighbour solicitation from the router for target.
func nsFrame(target []byte) []byte {
	f := make([]byte, 14+netpkt.NDLen)
	router := [6]byte{0x44, 0x44, 0x44, 0x44, 0x44, 0x44}
	src := []byte{0xfe, 0x80, 15: 1}
	dmac := netpkt.WriteNS(f[14:], src, target, router[:])
	copy(f[0:6], dmac[:])
	copy(f[6:12], router[:])
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	return f
}

// TestNoNeighbourAnswersOutOfService: a lwAFTR sharing the anycast
// address answers solicitations for it while in service, and stops as
// soon as its failover handler says it is out of service (shutting down,
// not forwarding), while known B4s keep being forwarded; back in service
// it answers again.
func TestNoNeighbourAnswersOutOfService(t *testing.T) {
	var c captured
	e := newTestEngine(t, testConfig(), 64, &c)
	src := &serviceSource{in: true}
	e.SetUnknownSource(src)
	na := func() int {
		c.frames[Internal] = nil
		e.Receive(Internal, nsFrame(tIntIP))
		e.Flush()
		n := 0
		for _, f := range c.frames[Internal] {
			if len(f) > 14+40 && f[14+6] == netpkt.ProtoICMPv6 && f[14+40] == 136 {
				n++
			}
		}
		return n
	}
	if n := na(); n != 1 || e.C.NAReplies != 1 {
		t.Fatalf("in service: %d advertisements (NAReplies %d), want 1", n, e.C.NAReplies)
	}
	src.in = false
	if n := na(); n != 0 || e.C.NAReplies != 1 {
		t.Fatalf("out of service: %d advertisements (NAReplies %d), want none", n, e.C.NAReplies)
	}
	// Known B4s are still forwarded while the network moves away.
	reply := ipv4TCP(0x64400000, tInet, portOf(5), 80, 64)
	e.Receive(Internal, ipv6Encap(reply, b4Addr(5), brAddr()))
	e.Flush()
	if len(c.frames[External]) != 1 {
		t.Fatalf("out of service: known B4 not forwarded (%d frames)", len(c.frames[External]))
	}
	src.in = true
	if n := na(); n != 1 {
		t.Fatalf("back in service: %d advertisements, want 1", n)
	}
}
