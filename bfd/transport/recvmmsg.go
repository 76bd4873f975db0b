package transport

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rxBatch receives up to len(hdrs) datagrams with one recvmmsg(2) call
// into storage allocated once. x/net's ReadBatch allocates a net.UDPAddr
// per datagram for the source address; at 100,000 packets per second that
// is garbage the receive path need not make.
type rxBatch struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for IPv4 too
	bufs  [][256]byte
	oobs  [][128]byte

	// The callback of RawConn.Read and its results live here: a closure
	// made per call would be allocated per batch.
	readFn func(fd uintptr) bool
	n      int
	err    error
}

// mmsghdr is struct mmsghdr of Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

func newRxBatch(n int) *rxBatch {
	b := &rxBatch{
		hdrs:  make([]mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n),
		bufs:  make([][256]byte, n),
		oobs:  make([][128]byte, n),
	}
	for i := range b.hdrs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		h := &b.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iovs[i]
		h.Iovlen = 1
		h.Control = &b.oobs[i][0]
	}
	b.readFn = b.recvmmsg
	return b
}

// read blocks (in the runtime's poller) until datagrams arrive and returns
// how many were received.
func (b *rxBatch) read(rc syscall.RawConn) (int, error) {
	b.n, b.err = 0, nil
	if err := rc.Read(b.readFn); err != nil {
		return 0, err
	}
	return b.n, b.err
}

// recvmmsg is the RawConn.Read callback: false asks to wait for readiness.
func (b *rxBatch) recvmmsg(fd uintptr) bool {
	for i := range b.hdrs {
		h := &b.hdrs[i].hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(len(b.oobs[i]))
		h.Flags = 0
	}
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)),
		unix.MSG_DONTWAIT, 0, 0)
	switch e {
	case 0:
		b.n = int(r)
	case unix.EAGAIN:
		return false
	default:
		b.err = e
	}
	return true
}

// datagram returns the i-th received payload, its control messages and its
// source address and port.
func (b *rxBatch) datagram(i int) (payload, oob []byte, src netip.AddrPort) {
	h := &b.hdrs[i]
	payload = b.bufs[i][:min(int(h.len), len(b.bufs[i]))]
	oob = b.oobs[i][:min(int(h.hdr.Controllen), len(b.oobs[i]))]
	sa := &b.names[i]
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := uint16(s4.Port>>8 | s4.Port<<8) // network to host order
		src = netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), port)
	case unix.AF_INET6:
		port := uint16(sa.Port>>8 | sa.Port<<8)
		src = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return payload, oob, src
}
