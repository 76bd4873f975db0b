package lwaftr

import (
	"github.com/wirebeat/wirebeat/softwire/netpkt"

	"encoding/binary"
	"time"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
)

// Addresses of the test topology (those of the conformance vectors).
var (
	tExtIP  = []byte{10, 10, 10, 10}
	tIntIP  = []byte{0, 8, 0, 9, 0, 0xa, 0, 0xb, 0, 0xc, 0, 0xd, 0, 0xe, 0, 0xf}
	tExtMAC = [6]byte{0x12, 0x12, 0x12, 0x12, 0x12, 0x12}
	tIntMAC = [6]byte{0x22, 0x22, 0x22, 0x22, 0x22, 0x22}
	tInet   = uint32(0x95ae9c5d) // 149.174.156.93
)

func testConfig() Config {
	c := Config{External: DefaultSide(true), Internal: DefaultSide(false), Hairpinning: true}
	c.External.IP, c.External.MAC = tExtIP, tExtMAC
	c.External.NextHopMAC, c.External.NextHopMACSet = [6]byte{0x68, 0x68, 0x68, 0x68, 0x68, 0x68}, true
	c.Internal.IP, c.Internal.MAC = tIntIP, tIntMAC
	c.Internal.NextHopMAC, c.Internal.NextHopMACSet = [6]byte{0x44, 0x44, 0x44, 0x44, 0x44, 0x44}, true
	return c
}

// b4Addr is the B4 of softwire i in the generated tables.
func b4Addr(i uint32) [16]byte {
	var a [16]byte
	a[0], a[1] = 0x20, 0x01
	binary.BigEndian.PutUint32(a[12:], i)
	return a
}

func brAddr() [16]byte { return [16]byte(tIntIP) }

// testBindings makes n softwires: IPv4 addresses from 100.64.0.0 with
// psid-length 6 (64 B4s per address, ports 1024 and up for each).
func testBindings(n int) []Binding {
	bs := make([]Binding, n)
	for i := range bs {
		bs[i] = Binding{IPv4: 0x64400000 + uint32(i/64), PSID: uint16(i % 64),
			PortSet: bindingtable.PortSet{Length: 6}, B4: b4Addr(uint32(i)), BR: brAddr()}
	}
	return bs
}

// portOf is a port in the port set of softwire i (psid-length 6).
func portOf(i int) uint16 { return uint16(i%64)<<10 | 1000 }

type captured struct{ frames [2][][]byte }

func (c *captured) Send(p Port, f []byte) {
	c.frames[p] = append(c.frames[p], append([]byte(nil), f...))
}

type discard struct{ n [2]int }

func (d *discard) Send(p Port, f []byte) { d.n[p]++ }

// ipv4TCP builds an Ethernet frame with an IPv4 TCP segment (no payload).
func ipv4TCP(src, dst uint32, sport, dport uint16, ttl byte) []byte {
	f := make([]byte, 14+20+20)
	copy(f[0:6], tExtMAC[:])
	f[6] = 0x68
	binary.BigEndian.PutUint16(f[12:], etIPv4)
	h := f[14:]
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], 40)
	h[8], h[9] = ttl, 6
	binary.BigEndian.PutUint32(h[12:], src)
	binary.BigEndian.PutUint32(h[16:], dst)
	netpkt.SetIPv4Checksum(h[:20])
	binary.BigEndian.PutUint16(h[20:], sport)
	binary.BigEndian.PutUint16(h[22:], dport)
	h[32] = 0x50
	return f
}

// ipv6Encap wraps the IPv4 packet of an ipv4TCP frame for the B4 side.
func ipv6Encap(v4frame []byte, src, dst [16]byte) []byte {
	inner := v4frame[14:]
	f := make([]byte, 14+40+len(inner))
	copy(f[0:6], tIntMAC[:])
	f[6] = 0x44
	binary.BigEndian.PutUint16(f[12:], etIPv6)
	netpkt.WriteIPv6Header(f[14:], 0, len(inner), 4, src[:], dst[:])
	copy(f[54:], inner)
	return f
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
