package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wirebeat/wirebeat/sfc/node"
)

// UDP carries NSH between nodes over one UDP socket: inside VXLAN-GPE
// (GPE true, port 4790) or directly in the datagram. Both directions are
// batched: Run receives with recvmmsg(2), SendNSH queues and Flush (or a
// full queue) sends with sendmmsg(2).
type UDP struct {
	conn *net.UDPConn
	rc   syscall.RawConn
	gpe  bool
	port uint16
	v6   bool

	mu sync.Mutex // serialises senders on the queue
	tx *batch

	RxBad, TxErrors atomic.Uint64
}

// Batch sizes: datagrams per system call, and the largest datagram a
// queue slot holds (larger ones are sent on their own).
const (
	rxBatch = 32
	txBatch = 32
	txSlot  = 9216 + GPELen
)

// UDPConfig says where to listen.
type UDPConfig struct {
	Local netip.Addr // unspecified: any address of the family of IPv6
	Port  uint16     // 0: GPEPort
	GPE   bool
	IPv6  bool
}

// ListenUDP opens the socket.
func ListenUDP(c UDPConfig) (*UDP, error) {
	if c.Port == 0 {
		c.Port = GPEPort
	}
	network, local := "udp4", "0.0.0.0"
	if c.IPv6 {
		network, local = "udp6", "::"
	}
	if c.Local.IsValid() {
		local = c.Local.String()
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			// Room for bursts: 4 MiB each way (capped by the kernel's
			// rmem_max and wmem_max unless run as root with FORCE).
			for _, o := range [][2]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}} {
				if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], 4<<20) != nil {
					_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], 4<<20)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, net.JoinHostPort(local, fmt.Sprint(c.Port)))
	if err != nil {
		return nil, fmt.Errorf("sfc transport: %w", err)
	}
	conn := pc.(*net.UDPConn)
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sfc transport: %w", err)
	}
	return &UDP{conn: conn, rc: rc, gpe: c.GPE, port: c.Port, v6: c.IPv6, tx: newBatch(txBatch, txSlot, unix.CmsgSpace(4))}, nil
}

// SendNSH implements node.Output's part: it queues one datagram to the
// locator's port, the DSCP in the outer header through IP_TOS (or
// IPV6_TCLASS) ancillary data.
func (u *UDP) SendNSH(to netip.Addr, dscp uint8, pkt []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	hl := 0
	if u.gpe {
		hl = GPELen
	}
	if hl+len(pkt) > txSlot {
		u.flushLocked()
		u.sendOne(to, dscp, pkt)
		return
	}
	i := u.tx.n
	buf := u.tx.bufs[i]
	if u.gpe {
		PutGPE(buf, 0)
	}
	n := hl + copy(buf[hl:], pkt)
	u.tos(u.tx.oobs[i], dscp)
	u.tx.prepare(i, 0, n, len(u.tx.oobs[i]))
	u.tx.setDest(i, to, u.port, u.v6)
	u.tx.n++
	if u.tx.n == len(u.tx.hdrs) {
		u.flushLocked()
	}
}

// Flush sends what SendNSH queued.
func (u *UDP) Flush() {
	u.mu.Lock()
	u.flushLocked()
	u.mu.Unlock()
}

func (u *UDP) flushLocked() {
	if u.tx.n == 0 {
		return
	}
	if failed := u.tx.send(u.rc, u.tx.n); failed > 0 {
		u.TxErrors.Add(uint64(failed))
	}
	u.tx.n = 0
}

// tos writes the traffic class ancillary data into oob.
func (u *UDP) tos(oob []byte, dscp uint8) {
	clear(oob)
	hdr := (*unix.Cmsghdr)(unsafePointer(oob))
	if u.v6 {
		hdr.Level, hdr.Type = unix.IPPROTO_IPV6, unix.IPV6_TCLASS
	} else {
		hdr.Level, hdr.Type = unix.IPPROTO_IP, unix.IP_TOS
	}
	hdr.SetLen(unix.CmsgLen(4))
	putNative32(oob[unix.CmsgLen(0):], uint32(dscp)<<2)
}

// sendOne sends a datagram too large for a queue slot.
func (u *UDP) sendOne(to netip.Addr, dscp uint8, pkt []byte) {
	b := make([]byte, 0, GPELen+len(pkt)) // rare: jumbo NSH packets only
	if u.gpe {
		b = b[:GPELen]
		PutGPE(b, 0)
	}
	b = append(b, pkt...)
	oob := make([]byte, unix.CmsgSpace(4))
	u.tos(oob, dscp)
	if to.Is4() && u.v6 {
		to = netip.AddrFrom16(to.As16())
	}
	if _, _, err := u.conn.WriteMsgUDPAddrPort(b, oob, netip.AddrPortFrom(to, u.port)); err != nil {
		u.TxErrors.Add(1)
	}
}

// Run receives datagrams in batches until Close and hands each NSH
// packet, with its source address, to w; after each batch it sends what
// the batch queued. Only this goroutine uses w.
func (u *UDP) Run(w *node.Worker) error {
	rx := newBatch(rxBatch, node.Headroom+65536, 0)
	for {
		n, err := rx.recv(u.rc, node.Headroom)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		for i := range n {
			l := int(rx.hdrs[i].Len)
			if rx.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
				u.RxBad.Add(1)
				continue
			}
			buf := rx.bufs[i][:node.Headroom+l]
			off := node.Headroom
			if u.gpe {
				h, err := ParseGPE(buf[off:])
				if err != nil {
					u.RxBad.Add(1)
					continue
				}
				off += h
			}
			w.FromNetwork(buf, off, rx.source(i))
		}
		u.Flush()
	}
}

// LocalPort is the bound port.
func (u *UDP) LocalPort() uint16 { return uint16(u.conn.LocalAddr().(*net.UDPAddr).Port) }

// Close stops Run.
func (u *UDP) Close() error { return u.conn.Close() }
