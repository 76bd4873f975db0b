//go:build linux

package pktio

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
)

// The receive ring's corner cases: the ring full of blocks the kernel
// handed over, blocks still held by a batch the engine has not released,
// and the socket error a link going down leaves. In each the port must
// deliver every frame once, in order, keep a held batch's memory intact,
// and wait in the kernel (or for a Release) rather than spin. Polls are
// counted per Receive call; nothing here measures time.

// ringPair is a veth pair in a namespace without IPv6 (so that nothing
// but the test's frames crosses it): tx sends, rx is the port under test
// with a ring of four blocks.
type ringPair struct {
	ns     *netns.NS
	txName string
	rxName string
	tx     Port
	rx     *afPacket
	frame  []byte
}

func newRingPair(t *testing.T, poll time.Duration) *ringPair {
	t.Helper()
	ns := netns.New(t, "ring")
	ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	r := &ringPair{ns: ns, txName: netns.Unique("ra"), rxName: netns.Unique("rb"), frame: make([]byte, 60)}
	netns.Veth(t, ns, r.txName, ns, r.rxName)
	var rx Port
	if err := ns.Do(func() (err error) {
		if r.tx, err = Open(r.txName, Config{MaxFrame: 1600}); err != nil {
			return err
		}
		rx, err = Open(r.rxName, Config{MaxFrame: 1600, RxRingBytes: 4 * rxBlockSize, PollTimeout: poll})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.tx.Close(); rx.Close() })
	r.rx = rx.(*afPacket)
	if r.rx.nblocks != 4 {
		t.Fatalf("%d blocks, want 4", r.rx.nblocks)
	}
	copy(r.frame, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5}) // local experimental ethertype
	return r
}

// send sends the frame numbered n.
func (r *ringPair) send(t *testing.T, n uint32) {
	t.Helper()
	binary.BigEndian.PutUint32(r.frame[14:], n)
	if err := r.tx.Write(r.frame); err != nil {
		t.Fatal(err)
	}
}

// sendInBlock sends frame n and waits until the kernel has retired block
// blk (its timer closes a block with frames in about a millisecond), so
// that every frame sent this way has a block of its own.
func (r *ringPair) sendInBlock(t *testing.T, n uint32, blk int) {
	t.Helper()
	r.send(t, n)
	for end := time.Now().Add(10 * time.Second); status(r.rx.block(blk), bdStatus).Load()&tpStatusUser == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("block %d never handed over after frame %d", blk, n)
		}
	}
}

// numbers are the test frames' numbers in b, in order.
func numbers(b *Batch) []uint32 {
	var ns []uint32
	for _, f := range b.Frames {
		if len(f) >= 18 && binary.BigEndian.Uint16(f[12:]) == 0x88b5 {
			ns = append(ns, binary.BigEndian.Uint32(f[14:]))
		}
	}
	return ns
}

// maxPollsPerReceive bounds the waits of one Receive that finds nothing:
// one poll, plus one after a wake-up the ring did not explain. A loop
// that spins makes thousands in a poll timeout.
const maxPollsPerReceive = 3

// TestAFPacketFullRingRecovers fills the ring (every block handed to user
// space, the kernel's queue frozen) with one frame per block, receives
// with a batch larger than what the ring holds, then checks the ring
// goes on: each frame sent afterwards comes once and in order, and idle
// Receives wait in the kernel.
//
// Before the fix the batch went round the ring into the blocks it had
// just read (not yet released), so frames came twice and partial
// checksums were finished twice over the same memory; releasing that
// batch then left the reader's cursor on a block the kernel was not
// filling, and poll (which reports the block before the kernel's as
// ready) returned at once, in a loop, while new frames waited a whole
// ring behind.
func TestAFPacketFullRingRecovers(t *testing.T) {
	r := newRingPair(t, 20*time.Millisecond)
	for i := range 4 {
		r.sendInBlock(t, uint32(i), i)
	}
	r.send(t, 4) // the queue is frozen: dropped
	r.send(t, 5)

	b := NewBatch(6)
	var got []uint32
	for range 4 {
		if err := r.rx.Receive(b); err != nil {
			t.Fatal(err)
		}
		got = append(got, numbers(b)...)
		r.rx.Release(b)
		if len(got) >= 4 {
			break
		}
	}
	if len(got) != 4 {
		t.Fatalf("from a full ring of 4 frames: %v", got)
	}
	for i, n := range got {
		if n != uint32(i) {
			t.Fatalf("from a full ring of 4 frames: %v (want 0 1 2 3, each once)", got)
		}
	}
	if s := r.rx.Stats(); s.RxKernelDrops == 0 || s.RxRingFull == 0 {
		t.Fatalf("the ring was not full: %+v", s)
	}

	// The ring goes on: every frame once, in order, without spinning.
	polls0 := r.rx.Stats().RxPolls
	calls := 0
	for n := uint32(100); n < 112; n++ {
		r.send(t, n)
		var seen []uint32
		for try := 0; len(seen) == 0 && try < 20; try++ {
			if err := r.rx.Receive(b); err != nil {
				t.Fatal(err)
			}
			calls++
			seen = numbers(b)
			r.rx.Release(b)
		}
		if len(seen) != 1 || seen[0] != n {
			t.Fatalf("after the full ring, frame %d: received %v", n, seen)
		}
	}
	for range 5 {
		if err := r.rx.Receive(b); err != nil {
			t.Fatal(err)
		}
		calls++
		if len(b.Frames) != 0 {
			t.Fatalf("idle Receive got %v", numbers(b))
		}
	}
	if polls := r.rx.Stats().RxPolls - polls0; polls > uint64(maxPollsPerReceive*calls) {
		t.Fatalf("%d polls in %d Receive calls: the receive loop spins", polls, calls)
	}
	t.Logf("after the full ring: %d polls in %d Receive calls; %+v", r.rx.Stats().RxPolls-polls0, calls, r.rx.Stats())
}

// TestAFPacketHeldBatch keeps one batch unreleased (as a pipelined
// reader does while a worker handles it) and receives into another:
// the held batch's frames must stay intact while the kernel goes round
// the ring, and waiting with nothing to read must not spin, although
// the kernel's poll then reports the held block as ready.
//
// Before the fix the second batch's Receive either spun (poll returned
// at once for the held block, the block before the kernel's) or, when
// the first batch had filled up exactly with the block's last frame,
// gave that block back to the kernel, which wrote new frames over it.
func TestAFPacketHeldBatch(t *testing.T) {
	// A batch of one is full with the block's last frame: the block's
	// release must still be that batch's, not the next Receive's.
	t.Run("full-at-block-end", func(t *testing.T) { testHeldBatch(t, 1) })
	t.Run("block-done", func(t *testing.T) { testHeldBatch(t, DefaultBatch) })
}

func testHeldBatch(t *testing.T, heldCap int) {
	r := newRingPair(t, 20*time.Millisecond)
	r.sendInBlock(t, 7, 0)
	held := NewBatch(heldCap)
	if err := r.rx.Receive(held); err != nil {
		t.Fatal(err)
	}
	if got := numbers(held); len(got) != 1 || got[0] != 7 {
		t.Fatalf("first batch: %v", got)
	}
	want := string(held.Frames[0])

	b := NewBatch(DefaultBatch)
	polls0, calls := r.rx.Stats().RxPolls, 0
	for range 3 {
		if err := r.rx.Receive(b); err != nil {
			t.Fatal(err)
		}
		calls++
		if len(b.Frames) != 0 {
			t.Fatalf("idle Receive got %v", numbers(b))
		}
	}
	if polls := r.rx.Stats().RxPolls - polls0; polls > uint64(maxPollsPerReceive*calls) {
		t.Fatalf("%d polls in %d idle Receive calls while a batch is held: the receive loop spins", polls, calls)
	}

	// Round the ring: blocks 1, 2, 3 take a frame each; block 0 is the
	// held batch's, so the kernel must stop there.
	for i := 1; i < 4; i++ {
		r.sendInBlock(t, uint32(10+i), i)
	}
	r.send(t, 20)
	r.send(t, 21)
	if string(held.Frames[0]) != want {
		t.Fatal("the held batch's frame was overwritten before its Release")
	}
	polls0, calls = r.rx.Stats().RxPolls, 0
	var got []uint32
	for try := 0; len(got) < 3 && try < 20; try++ {
		if err := r.rx.Receive(b); err != nil {
			t.Fatal(err)
		}
		calls++
		got = append(got, numbers(b)...)
		r.rx.Release(b)
	}
	if len(got) != 3 || got[0] != 11 || got[1] != 12 || got[2] != 13 {
		t.Fatalf("with the first batch held: %v, want [11 12 13]", got)
	}
	r.rx.Release(held)
	r.send(t, 30)
	got = nil
	for try := 0; len(got) == 0 && try < 20; try++ {
		if err := r.rx.Receive(b); err != nil {
			t.Fatal(err)
		}
		calls++
		got = numbers(b)
		r.rx.Release(b)
	}
	if len(got) != 1 || got[0] != 30 {
		t.Fatalf("after the held batch's release: %v, want [30]", got)
	}
	if polls := r.rx.Stats().RxPolls - polls0; polls > uint64(maxPollsPerReceive*calls) {
		t.Fatalf("%d polls in %d Receive calls: the receive loop spins", polls, calls)
	}
}

// TestAFPacketLinkDown: a link going down leaves an error on the receive
// socket (ENETDOWN), which poll reports until it is read. The port must
// read it, count it, wait again, and receive once the link is back.
func TestAFPacketLinkDown(t *testing.T) {
	r := newRingPair(t, 20*time.Millisecond)
	r.ns.Must(t, "ip", "link", "set", r.rxName, "down")
	b := NewBatch(DefaultBatch)
	polls0 := r.rx.Stats().RxPolls
	const calls = 5
	for range calls {
		if err := r.rx.Receive(b); err != nil {
			t.Fatal(err)
		}
		r.rx.Release(b)
	}
	s := r.rx.Stats()
	if polls := s.RxPolls - polls0; polls > maxPollsPerReceive*calls {
		t.Fatalf("%d polls in %d Receive calls on a link that is down: the receive loop spins", polls, calls)
	}
	if s.RxSocketErrors == 0 {
		t.Fatalf("the link went down and no socket error was counted: %+v", s)
	}
	r.ns.Must(t, "ip", "link", "set", r.rxName, "up")
	var got []uint32
	for try := 0; len(got) == 0 && try < 100; try++ {
		r.send(t, uint32(40+try)) // the carrier takes a moment to come back
		if err := r.rx.Receive(b); err != nil {
			t.Fatal(err)
		}
		got = numbers(b)
		r.rx.Release(b)
	}
	if len(got) == 0 {
		t.Fatal("nothing received after the link came back up")
	}
}

// TestAFPacketResync puts the reader's cursor on a block the kernel is
// not filling (as the wrap-around bug did) and checks the port finds
// its way back: the blocks handed over come in the kernel's order, the
// resynchronisation is counted, and no Receive spins.
func TestAFPacketResync(t *testing.T) {
	r := newRingPair(t, 20*time.Millisecond)
	r.sendInBlock(t, 50, 0)
	r.sendInBlock(t, 51, 1)
	r.rx.cur = 3 // the kernel fills block 2; blocks 0 and 1 wait
	b := NewBatch(DefaultBatch)
	var got []uint32
	calls := 0
	for try := 0; len(got) < 2 && try < 10; try++ {
		if err := r.rx.Receive(b); err != nil {
			t.Fatal(err)
		}
		calls++
		got = append(got, numbers(b)...)
		r.rx.Release(b)
	}
	if len(got) != 2 || got[0] != 50 || got[1] != 51 {
		t.Fatalf("after the cursor went astray: %v, want [50 51]", got)
	}
	s := r.rx.Stats()
	if s.RxResyncs != 1 {
		t.Fatalf("RxResyncs %d, want 1", s.RxResyncs)
	}
	if s.RxPolls > uint64(maxPollsPerReceive*calls) {
		t.Fatalf("%d polls in %d Receive calls", s.RxPolls, calls)
	}
	r.send(t, 52)
	got = nil
	for try := 0; len(got) == 0 && try < 20; try++ {
		if err := r.rx.Receive(b); err != nil {
			t.Fatal(err)
		}
		got = numbers(b)
		r.rx.Release(b)
	}
	if len(got) != 1 || got[0] != 52 {
		t.Fatalf("after the resynchronisation: %v, want [52]", got)
	}
}

// TestIdleReceiveWaits: with nothing to read, every driver's Receive
// waits in the kernel (a few polls per call, not a loop), also on a link
// that has gone down.
func TestIdleReceiveWaits(t *testing.T) {
	ns := netns.New(t, "idle")
	ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	a, b, tun := netns.Unique("ia"), netns.Unique("ib"), netns.Unique("itn")
	netns.Veth(t, ns, a, ns, b)
	cfg := Config{PollTimeout: 20 * time.Millisecond}
	ports := map[string]Port{}
	if err := ns.Do(func() error {
		pa, err := Open(a, cfg)
		if err != nil {
			return err
		}
		ports["af_packet"] = pa
		x := cfg
		x.Driver = DriverAFXDP
		px, err := Open(b, x)
		if err != nil {
			return err
		}
		ports["af_xdp"] = px
		pt, err := OpenTUN(tun, cfg)
		ports["tun"] = pt
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		defer p.Close()
	}
	if ports["af_xdp"].Driver() != DriverAFXDP {
		t.Logf("no AF_XDP here (%s): that port is AF_PACKET too", ports["af_xdp"].Fallback())
	}
	idle := func(what string) {
		t.Helper()
		for name, p := range ports {
			batch := NewBatch(DefaultBatch)
			polls0 := p.Stats().RxPolls
			const calls = 5
			for range calls {
				if err := p.Receive(batch); err != nil {
					t.Fatalf("%s %s: %v", name, what, err)
				}
				p.Release(batch)
			}
			if polls := p.Stats().RxPolls - polls0; polls > maxPollsPerReceive*calls {
				t.Errorf("%s %s: %d polls in %d idle Receive calls: the receive loop spins", name, what, polls, calls)
			}
		}
	}
	idle("up")
	for _, d := range []string{a, b, tun} {
		ns.Must(t, "ip", "link", "set", d, "down")
	}
	idle("link down")
}
