// Package afpacket is the live packet I/O of the softwire data planes: a
// raw AF_PACKET socket bound to one interface, in promiscuous mode, that
// reads frames in batches (one blocking read, then as many as are
// queued without blocking) and writes frames one by one.
package afpacket

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by ReadBatch after Close.
var ErrClosed = errors.New("afpacket: link closed")

// readTimeout bounds a blocking read so the reader notices a stop.
const readTimeout = 100 * time.Millisecond

// Link is one interface's socket.
type Link struct {
	fd     int
	name   string
	closed atomic.Bool
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Open binds a socket to the interface named dev.
func Open(dev string) (*Link, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %w", err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("afpacket: socket: %w", err)
	}
	fail := func(what string, err error) (*Link, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("afpacket: %s %s: %w", what, dev, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	// Our own transmissions must not come back as input.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("ignore outgoing", err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fail("promiscuous", err)
	}
	tv := unix.NsecToTimeval(readTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("receive timeout", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	return &Link{fd: fd, name: dev}, nil
}

// recv reads one frame without allocating (recvfrom with no address).
func (l *Link) recv(b []byte, flags int) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(l.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// ReadBatch waits up to the read timeout for a frame, then takes every
// frame already queued, up to len(bufs).
func (l *Link) ReadBatch(bufs [][]byte, lens []int) (int, error) {
	if l.closed.Load() {
		return 0, ErrClosed
	}
	n := 0
	for n < len(bufs) {
		flags := unix.MSG_TRUNC
		if n > 0 {
			flags |= unix.MSG_DONTWAIT
		}
		m, err := l.recv(bufs[n], flags)
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				return n, nil
			}
			if l.closed.Load() {
				return n, ErrClosed
			}
			return n, fmt.Errorf("afpacket: read %s: %w", l.name, err)
		}
		if m > len(bufs[n]) { // truncated: too big for us, skip it
			continue
		}
		lens[n] = m
		n++
	}
	return n, nil
}

// Write sends one frame.
func (l *Link) Write(frame []byte) error {
	for {
		_, err := unix.Write(l.fd, frame)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("afpacket: write %s: %w", l.name, err)
		}
		return nil
	}
}

// Close releases the socket.
func (l *Link) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	return unix.Close(l.fd)
}
