package lwaftr

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// localSource is an UnknownSource that also takes UDP to our address
// (a relay) and sends one packet of its own at each Poll.
type localSource struct {
	serviceSource
	got  [][]byte
	send []byte
	sent bool
}

func (s *localSource) LocalUDP(p []byte) bool {
	s.got = append(s.got, append([]byte(nil), p...))
	return true
}

func (s *localSource) Poll(e *Engine) {
	if s.send != nil {
		s.sent = e.SendLocal6(s.send)
		s.send = nil
	}
}

// udpFrame is an IPv6 UDP datagram from a B4 to dst:547.
func udpFrame(dst []byte) []byte {
	f := make([]byte, 14+40+8+4)
	copy(f[0:6], tIntMAC[:])
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	b4 := b4Addr(7)
	netpkt.WriteIPv6Header(f[14:], 0, 12, 17, b4[:], dst)
	u := f[14+40:]
	binary.BigEndian.PutUint16(u[0:], 546)
	binary.BigEndian.PutUint16(u[2:], 547)
	binary.BigEndian.PutUint16(u[4:], 12)
	copy(u[8:], "\x0b\x01\x02\x03")
	binary.BigEndian.PutUint16(u[6:], netpkt.L4Checksum6(f[14+8:14+24], f[14+24:14+40], 17, u))
	return f
}

// TestLocalUDP: UDP to the internal address goes to the handler that
// takes it (the DHCPv4-over-DHCPv6 relay), UDP to another address is
// dropped as of an unknown protocol, and what the handler sends from Poll
// leaves the internal side to the next hop.
func TestLocalUDP(t *testing.T) {
	var c captured
	e := newTestEngine(t, testConfig(), 64, &c)
	src := &localSource{serviceSource: serviceSource{in: true}}
	e.SetUnknownSource(src)
	e.Receive(Internal, udpFrame(tIntIP))
	other := b4Addr(9)
	e.Receive(Internal, udpFrame(other[:]))
	if len(src.got) != 1 || !bytes.Equal(src.got[0][24:40], tIntIP) || e.C.DropUnknownProto != 1 {
		t.Fatalf("handler got %d packets, drop-unknown-protocol %d; want 1 and 1", len(src.got), e.C.DropUnknownProto)
	}
	// Without a LocalUDP handler, UDP to us is an unknown protocol.
	e.SetUnknownSource(&serviceSource{in: true})
	e.Receive(Internal, udpFrame(tIntIP))
	if e.C.DropUnknownProto != 2 {
		t.Fatalf("drop-unknown-protocol %d without a handler, want 2", e.C.DropUnknownProto)
	}
	e.SetUnknownSource(src)
	reply := udpFrame(tIntIP)[14:]
	src.send = reply
	e.Flush()
	if !src.sent || len(c.frames[Internal]) != 1 {
		t.Fatalf("SendLocal6: sent %v, %d frames", src.sent, len(c.frames[Internal]))
	}
	f := c.frames[Internal][0]
	if !bytes.Equal(f[0:6], []byte{0x44, 0x44, 0x44, 0x44, 0x44, 0x44}) || !bytes.Equal(f[6:12], tIntMAC[:]) || !bytes.Equal(f[14:], reply) {
		t.Fatalf("frame sent: % x", f)
	}
	if e.SendLocal6(make([]byte, e.cfg.Internal.MTU+1)) || e.SendLocal6([]byte{0x45}) {
		t.Fatal("SendLocal6 took a packet over the MTU or not IPv6")
	}
}
