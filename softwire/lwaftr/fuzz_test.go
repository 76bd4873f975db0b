package lwaftr

import (
	"github.com/wirebeat/wirebeat/softwire/netpkt"

	"testing"
)

// FuzzReceive feeds arbitrary frames to both sides and to the on-a-stick
// classifier: the parsers must neither panic nor emit frames longer than
// the buffers, whatever the input.
func FuzzReceive(f *testing.F) {
	f.Add(ipv4TCP(tInet, 0x64400000+3, 80, portOf(3), 64), false)
	f.Add(ipv6Encap(ipv4TCP(0x64400000, tInet, portOf(0), 80, 64), b4Addr(0), brAddr()), true)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1}, false)
	frag := ipv6Encap(ipv4TCP(0x64400000, tInet, portOf(0), 80, 64), b4Addr(0), brAddr())
	frag[14+6] = 44
	f.Add(frag, true)
	cfg := testConfig()
	cfg.Internal.NextHopMACSet = false
	cfg.Internal.NextHopIP = tIntIP
	cfg.External.MaxPackets, cfg.Internal.MaxPackets = 4, 4
	f.Fuzz(func(t *testing.T, frame []byte, internal bool) {
		d := &discard{}
		e := newTestEngine(t, cfg, 256, d)
		p := External
		if internal {
			p = Internal
		}
		e.Receive(p, frame)
		e.ReceiveStick(frame)
		e.Flush()
	})
}

// FuzzFilter compiles arbitrary filter text: errors, never panics.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{"ip", "len < 0", "not (ip6 or arp) and tcp", "src host 1.2.3.4", "port 80"} {
		f.Add(s)
	}
	v4 := ipv4TCP(tInet, 0x64400000, 80, 1000, 64)[14:]
	f.Fuzz(func(t *testing.T, expr string) {
		if flt, err := CompileFilter(expr); err == nil {
			flt.Match(etIPv4, v4)
			flt.Match(etIPv6, v4[:10])
		}
	})
}

// TestHugeEchoToUs: a ping bigger than the MTU is dropped, not answered
// past the end of a buffer.
func TestHugeEchoToUs(t *testing.T) {
	d := &discard{}
	e := newTestEngine(t, testConfig(), 16, d)
	f := make([]byte, 14+9000)
	copy(f, ipv4TCP(tInet, 0x0a0a0a0a, 0, 0, 64))
	h := f[14:]
	be.PutUint16(h[2:], 9000)
	h[9] = 1
	netpkt.SetIPv4Checksum(h[:20])
	h[20] = 8
	be.PutUint16(h[22:], netpkt.Checksum(h[20:]))
	e.Receive(External, f)
	v6 := make([]byte, 14+9000)
	copy(v6, ipv6Encap(ipv4TCP(0, 0, 0, 0, 1), b4Addr(1), [16]byte(tIntIP)))
	be.PutUint16(v6[14+4:], 9000-40)
	v6[14+6] = 58
	v6[54] = 128
	clear(v6[55:58])
	be.PutUint16(v6[56:], netpkt.ICMPv6Checksum(v6[22:38], v6[38:54], v6[54:]))
	e.Receive(Internal, v6)
	e.Flush()
	if d.n[0]+d.n[1] != 0 {
		t.Fatalf("oversized echo answered: %v", d.n)
	}
}
