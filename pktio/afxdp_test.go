//go:build linux

package pktio

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
)

// exchange sends n numbered frames from src to dst in batches and
// returns how many arrived intact (each once).
func exchange(t *testing.T, src, dst Port, n int) int {
	t.Helper()
	frame := make([]byte, 60)
	copy(frame, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	seen := make([]bool, n)
	got := 0
	rx := NewBatch(DefaultBatch)
	deadline := time.Now().Add(10 * time.Second)
	for sent := 0; sent < n; {
		for i := 0; i < 32 && sent < n; i++ {
			binary.BigEndian.PutUint32(frame[14:], uint32(sent))
			if !src.Send(frame) {
				t.Fatalf("send %d refused", sent)
			}
			sent++
		}
		if err := src.Flush(); err != nil {
			t.Fatal(err)
		}
		for got < sent && time.Now().Before(deadline) {
			if err := dst.Receive(rx); err != nil {
				t.Fatal(err)
			}
			for _, f := range rx.Frames {
				if len(f) < 18 || binary.BigEndian.Uint16(f[12:]) != 0x88b5 {
					continue
				}
				k := binary.BigEndian.Uint32(f[14:])
				if k >= uint32(n) || seen[k] || !bytes.Equal(f[18:], frame[18:]) {
					t.Fatalf("frame %d unexpected, twice or damaged", k)
				}
				seen[k] = true
				got++
			}
			dst.Release(rx)
		}
	}
	return got
}

// TestAFXDPVeth: an AF_XDP port (copy mode on veth, the XDP program
// attached natively) moves frames both ways with an AF_PACKET port on
// the other end.
func TestAFXDPVeth(t *testing.T) {
	ns := netns.New(t, "xdp")
	a, b := netns.Unique("xa"), netns.Unique("xb")
	netns.Veth(t, ns, a, ns, b)
	ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	var px, pp Port
	if err := ns.Do(func() (err error) {
		if px, err = Open(a, Config{Driver: DriverAFXDP}); err != nil {
			return err
		}
		pp, err = Open(b, Config{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pp.Close()
	defer px.Close()
	if px.Driver() != DriverAFXDP {
		t.Fatalf("driver %s, fallback %q", px.Driver(), px.Fallback())
	}
	t.Logf("af_xdp on %s: %s", px.Name(), px.(*afXDP).Mode())
	const n = 3000 // more than the UMEM's transmit half: frames are reused
	if got := exchange(t, pp, px, n); got != n {
		t.Fatalf("into AF_XDP: %d of %d", got, n)
	}
	if got := exchange(t, px, pp, n); got != n {
		t.Fatalf("out of AF_XDP: %d of %d", got, n)
	}
	s := px.Stats()
	t.Logf("af_xdp stats: rx %d in %d batches, tx %d in %d kicks, drops %d", s.RxFrames, s.RxBatches, s.TxFrames, s.TxSyscalls, s.RxDrops+s.TxDrops)
	if s.RxFrames < n || s.TxFrames != n || s.TxDrops != 0 {
		t.Fatalf("stats %+v", s)
	}
	// Closing detaches the program: the interface is back to normal.
	px.Close()
	if out := ns.Must(t, "ip", "link", "show", a); strings.Contains(out, "xdp") {
		t.Fatalf("XDP program still attached after Close:\n%s", out)
	}
}

// TestAFXDPFallback: AF_XDP asked for a queue the device does not have
// cannot bind; the port falls back to AF_PACKET, says so in the log and
// in Fallback, and works.
func TestAFXDPFallback(t *testing.T) {
	ns := netns.New(t, "xdp")
	a, b := netns.Unique("xa"), netns.Unique("xb")
	netns.Veth(t, ns, a, ns, b)
	ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	var px, pp Port
	if err := ns.Do(func() (err error) {
		if px, err = Open(a, Config{Driver: DriverAFXDP, Queue: 7, Log: log}); err != nil {
			return err
		}
		pp, err = Open(b, Config{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pp.Close()
	defer px.Close()
	if px.Driver() != DriverAFPacket || !strings.Contains(px.Fallback(), "af_xdp unavailable") {
		t.Fatalf("driver %s, fallback %q", px.Driver(), px.Fallback())
	}
	if !strings.Contains(logBuf.String(), "falling back to AF_PACKET") {
		t.Fatalf("no fallback log line: %q", logBuf.String())
	}
	t.Logf("fallback: %s", px.Fallback())
	if got := exchange(t, pp, px, 200); got != 200 {
		t.Fatalf("after fallback: %d of 200", got)
	}
	if _, err := Open(a, Config{Driver: "dpdk"}); err == nil {
		t.Fatal("unknown driver accepted")
	}
}

// TestAFXDPQueues: one AF_XDP port per queue of a two-queue veth (one
// per worker) shares the interface's XDP program; together they receive
// every frame, and the program goes when the last closes. (Which queue
// a frame lands on is the sender's choice: an AF_PACKET sender keeps to
// one queue per socket.)
func TestAFXDPQueues(t *testing.T) {
	ns := netns.New(t, "xdq")
	a, b := netns.Unique("qa"), netns.Unique("qb")
	ns.Must(t, "ip", "link", "add", a, "numtxqueues", "2", "numrxqueues", "2", "type", "veth", "peer", "name", b, "numtxqueues", "2", "numrxqueues", "2")
	ns.Must(t, "ip", "link", "set", a, "up")
	ns.Must(t, "ip", "link", "set", b, "up")
	ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	var q [2]Port
	var src Port
	if err := ns.Do(func() (err error) {
		for i := range q {
			if q[i], err = Open(a, Config{Driver: DriverAFXDP, Queue: i, PollTimeout: 5 * time.Millisecond}); err != nil {
				return err
			}
		}
		src, err = Open(b, Config{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for i, p := range q {
		defer p.Close()
		if p.Driver() != DriverAFXDP {
			t.Fatalf("queue %d: %s (%s)", i, p.Driver(), p.Fallback())
		}
	}
	// IPv4/UDP frames of 256 flows: the sender's queue choice hashes them.
	const n = 2048
	f := make([]byte, 60)
	copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	for i := range n {
		binary.BigEndian.PutUint16(f[34:], uint16(1000+i%256))
		binary.BigEndian.PutUint16(f[36:], 53)
		binary.BigEndian.PutUint32(f[42:], uint32(i))
		if !src.Send(f) {
			t.Fatal("send refused")
		}
		if i%64 == 63 {
			_ = src.Flush()
		}
	}
	_ = src.Flush()
	got := map[uint32]bool{}
	per := [2]int{}
	rx := NewBatch(DefaultBatch)
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		for i, p := range q {
			if err := p.Receive(rx); err != nil {
				t.Fatal(err)
			}
			for _, fr := range rx.Frames {
				if len(fr) >= 46 && fr[23] == 17 {
					got[binary.BigEndian.Uint32(fr[42:])] = true
					per[i]++
				}
			}
			p.Release(rx)
		}
	}
	t.Logf("frames per queue: %v", per)
	if len(got) != n {
		t.Fatalf("%d of %d frames arrived over the two queues", len(got), n)
	}
	q[0].Close()
	if out := ns.Must(t, "ip", "link", "show", a); !strings.Contains(out, "xdp") {
		t.Fatal("program detached while queue 1's port is open")
	}
	q[1].Close()
	if out := ns.Must(t, "ip", "link", "show", a); strings.Contains(out, "xdp") {
		t.Fatalf("program still attached after both ports closed:\n%s", out)
	}
}
