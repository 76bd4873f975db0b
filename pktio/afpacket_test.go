//go:build linux

package pktio

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
)

// TestAFPacketVeth moves frames between the two ends of a veth pair in a
// namespace made for the test: batches out through the transmit ring
// with one kick each, batches in from the receive ring, every frame
// accounted for and intact.
func TestAFPacketVeth(t *testing.T) {
	ns := netns.New(t, "pkt")
	a, b := netns.Unique("pa"), netns.Unique("pb")
	netns.Veth(t, ns, a, ns, b)
	ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	var pa, pb Port
	if err := ns.Do(func() (err error) {
		if pa, err = Open(a, Config{MaxFrame: 1600}); err != nil {
			return err
		}
		pb, err = Open(b, Config{MaxFrame: 1600})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pa.Close()
	defer pb.Close()
	if pa.Driver() != "af_packet" {
		t.Fatalf("driver %q", pa.Driver())
	}
	const total, batch = 4096, 64
	frame := make([]byte, 60)
	copy(frame, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5}) // local experimental ethertype
	seen := make([]bool, total)
	got := 0
	rx := NewBatch(DefaultBatch)
	deadline := time.Now().Add(20 * time.Second)
	for sent := 0; sent < total; {
		for i := 0; i < batch && sent < total; i++ {
			binary.BigEndian.PutUint32(frame[14:], uint32(sent))
			if !pa.Send(frame) {
				t.Fatalf("send %d refused", sent)
			}
			sent++
		}
		if err := pa.Flush(); err != nil {
			t.Fatal(err)
		}
		// Drain what arrived so the receive ring never fills.
		for got < sent && time.Now().Before(deadline) {
			if err := pb.Receive(rx); err != nil {
				t.Fatal(err)
			}
			for _, f := range rx.Frames {
				if len(f) < 18 || binary.BigEndian.Uint16(f[12:]) != 0x88b5 {
					continue
				}
				n := binary.BigEndian.Uint32(f[14:])
				if n >= total || seen[n] {
					t.Fatalf("frame %d unexpected or twice", n)
				}
				seen[n] = true
				got++
			}
			pb.Release(rx)
		}
	}
	if got != total {
		t.Fatalf("%d of %d frames arrived", got, total)
	}
	sa, sb := pa.Stats(), pb.Stats()
	t.Logf("tx: %d frames in %d kicks; rx: %d frames in %d batches, %d polls", sa.TxFrames, sa.TxSyscalls, sb.RxFrames, sb.RxBatches, sb.RxPolls)
	if sa.TxFrames != total || sa.TxDrops != 0 {
		t.Fatalf("tx counters %+v", sa)
	}
	if sa.TxSyscalls > total/batch+1 {
		t.Fatalf("%d transmit system calls for %d frames: not batched", sa.TxSyscalls, total)
	}
	if sb.RxFrames < total || sb.RxDrops != 0 {
		t.Fatalf("rx counters %+v", sb)
	}

	// The copy-in/copy-out path works on the same port.
	if err := pa.Write(frame); err != nil {
		t.Fatal(err)
	}
	bufs, lens := [][]byte{make([]byte, 2048)}, []int{0}
	for time.Now().Before(deadline) {
		n, err := pb.ReadBatch(bufs, lens)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 && lens[0] == len(frame) && string(bufs[0][:lens[0]]) == string(frame) {
			return
		}
	}
	t.Fatal("Write/ReadBatch: frame did not arrive")
}

// TestClosedPort: after Close every call fails cleanly.
func TestClosedPort(t *testing.T) {
	ns := netns.New(t, "pkt")
	a, b := netns.Unique("pa"), netns.Unique("pb")
	netns.Veth(t, ns, a, ns, b)
	var p Port
	if err := ns.Do(func() (err error) { p, err = Open(a, Config{}); return err }); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := p.Receive(NewBatch(4)); err != ErrClosed {
		t.Fatalf("Receive after Close: %v", err)
	}
	if p.Send(make([]byte, 60)) {
		t.Fatal("Send after Close accepted")
	}
	if _, err := Open("no-such-if0", Config{}); err == nil {
		t.Fatal("Open of a missing interface succeeded")
	}
}
