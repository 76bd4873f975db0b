//go:build linux

package pktio

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
)

// TestTUN: datagrams the host routes into a TUN port arrive in batches as
// IP packets; an IP packet sent on the port is received by the host as if
// it had arrived on the interface; Close wakes a waiting receiver.
func TestTUN(t *testing.T) {
	ns := netns.New(t, "tun")
	name := netns.Unique("wbtn")
	var p Port
	if err := ns.Do(func() (err error) {
		p, err = OpenTUN(name, Config{MaxFrame: 2000, PollTimeout: 50 * time.Millisecond})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Driver() != DriverTUN || p.Name() != name {
		t.Fatalf("driver %q name %q", p.Driver(), p.Name())
	}
	ns.Must(t, "sysctl", "-qw", "net.ipv6.conf."+name+".disable_ipv6=1")
	ns.Addr(t, name, "10.77.0.1/24")
	var c *net.UDPConn
	if err := ns.Do(func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 77, 0, 1), Port: 4000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Into the port: 200 datagrams routed to 10.77.0.2 through the TUN.
	const total = 200
	to := &net.UDPAddr{IP: net.IPv4(10, 77, 0, 2), Port: 5000}
	for i := range total {
		if _, err := c.WriteToUDP(binary.BigEndian.AppendUint32(nil, uint32(i)), to); err != nil {
			t.Fatal(err)
		}
	}
	b := NewBatch(DefaultBatch)
	got, batches := 0, 0
	for end := time.Now().Add(10 * time.Second); got < total && time.Now().Before(end); {
		if err := p.Receive(b); err != nil {
			t.Fatal(err)
		}
		if b.Len() > 0 {
			batches++
		}
		for _, f := range b.Frames {
			if f[0]>>4 == 6 {
				continue // a router solicitation sent before IPv6 was off
			}
			if len(f) != 20+8+4 || f[0] != 0x45 || f[9] != 17 || binary.BigEndian.Uint32(f[28:]) != uint32(got) {
				t.Fatalf("packet %d: %x", got, f)
			}
			got++
		}
		p.Release(b)
	}
	if got != total {
		t.Fatalf("received %d of %d", got, total)
	}
	t.Logf("%d packets in %d batches", total, batches)

	// Out of the port: a packet from 10.77.0.2 to the local socket.
	pkt := make([]byte, 20+8+5)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	copy(pkt[12:], []byte{10, 77, 0, 2})
	copy(pkt[16:], []byte{10, 77, 0, 1})
	binary.BigEndian.PutUint16(pkt[10:], ipv4Sum(pkt[:20]))
	binary.BigEndian.PutUint16(pkt[20:], 5000)
	binary.BigEndian.PutUint16(pkt[22:], 4000)
	binary.BigEndian.PutUint16(pkt[24:], 13)
	copy(pkt[28:], "hello")
	if !p.Send(pkt) || p.Flush() != nil {
		t.Fatal("send refused")
	}
	if p.Send(make([]byte, 2001)) {
		t.Fatal("a packet over MaxFrame was sent")
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, from, err := c.ReadFromUDP(buf)
	if err != nil || string(buf[:n]) != "hello" || from.Port != 5000 {
		t.Fatalf("host got %q from %v: %v", buf[:n], from, err)
	}
	s := p.Stats()
	if s.RxFrames < total || s.TxFrames != 1 || s.TxTooBig != 1 {
		t.Fatalf("stats %+v", s)
	}

	// Close wakes a receiver at once (not after its poll timeout only).
	p2 := p
	errc := make(chan error, 1)
	go func() { errc <- p2.Receive(NewBatch(4)) }()
	time.Sleep(20 * time.Millisecond)
	p.Close()
	for {
		select {
		case err := <-errc:
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Fatalf("receive after close: %v", err)
			}
			if err := p.Receive(NewBatch(4)); !errors.Is(err, ErrClosed) {
				t.Fatalf("receive on a closed port: %v", err)
			}
			return
		case <-time.After(5 * time.Second):
			t.Fatal("receiver not woken by Close")
		}
	}
}

func ipv4Sum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
