package transport

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batch is the storage of one recvmmsg(2) or sendmmsg(2) call, allocated
// once: buffers, addresses, ancillary data and the message headers that
// point at them.
type batch struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	bufs  [][]byte
	names []unix.RawSockaddrInet6 // large enough for either family
	oobs  [][]byte
	n     int // messages queued (send side)
}

func newBatch(n, bufLen, oobLen int) *batch {
	b := &batch{hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), bufs: make([][]byte, n),
		names: make([]unix.RawSockaddrInet6, n), oobs: make([][]byte, n)}
	for i := range n {
		b.bufs[i] = make([]byte, bufLen)
		if oobLen > 0 {
			b.oobs[i] = make([]byte, oobLen)
		}
	}
	return b
}

// prepare points header i at its buffer (length l), address and oob.
func (b *batch) prepare(i, off, l, oobLen int) {
	b.iovs[i].Base = &b.bufs[i][off]
	b.iovs[i].SetLen(l)
	h := &b.hdrs[i].Hdr
	h.Iov, h.Iovlen = &b.iovs[i], 1
	h.Name, h.Namelen = (*byte)(unsafe.Pointer(&b.names[i])), uint32(unsafe.Sizeof(b.names[i]))
	if oobLen > 0 {
		h.Control = &b.oobs[i][0]
		h.SetControllen(oobLen)
	} else {
		h.Control = nil
		h.SetControllen(0)
	}
	h.Flags = 0
	b.hdrs[i].Len = 0
}

// recv fills up to len(b.hdrs) datagrams; their payloads start at off in
// each buffer. It returns the count; 0 with errno EAGAIN when none.
func (b *batch) recv(rc syscall.RawConn, off int) (int, error) {
	for i := range b.hdrs {
		b.prepare(i, off, len(b.bufs[i])-off, 0)
	}
	var n int
	var serr error
	err := rc.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		if e != 0 {
			serr = e
		}
		n = int(r)
		return true
	})
	if err != nil {
		return 0, err
	}
	return n, serr
}

// source returns the sender of datagram i.
func (b *batch) source(i int) netip.Addr {
	sa := &b.names[i]
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrFrom4(s4.Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16(sa.Addr).Unmap()
	}
	return netip.Addr{}
}

// setDest writes the destination of message i.
func (b *batch) setDest(i int, to netip.Addr, port uint16, v6 bool) {
	sa := &b.names[i]
	*sa = unix.RawSockaddrInet6{}
	if !v6 {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		s4.Family = unix.AF_INET
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s4.Port))[:], port)
		s4.Addr = to.As4()
		return
	}
	sa.Family = unix.AF_INET6
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], port)
	sa.Addr = to.As16()
}

// send writes the first n queued messages with as few sendmmsg(2) calls
// as the kernel allows; a message the kernel refuses (an error for its
// destination) is skipped and counted. It returns the count of those.
func (b *batch) send(rc syscall.RawConn, n int) int {
	done, failed := 0, 0
	for done < n {
		var sent int
		var serr bool
		err := rc.Write(func(fd uintptr) bool {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[done])), uintptr(n-done), 0, 0, 0)
			if e == unix.EAGAIN || e == unix.EINTR {
				return false
			}
			serr = e != 0
			sent = int(r)
			return true
		})
		if err != nil {
			return failed + n - done
		}
		if serr || sent <= 0 {
			failed++
			done++
			continue
		}
		done += sent
	}
	return failed
}
