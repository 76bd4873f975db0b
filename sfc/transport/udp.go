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
// (GPE true, port 4790) or directly in the datagram.
type UDP struct {
	conn *net.UDPConn
	gpe  bool
	port uint16
	v6   bool

	mu  sync.Mutex // serialises senders on the shared buffers
	buf []byte
	oob []byte

	RxBad, TxErrors atomic.Uint64
}

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
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
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
	return &UDP{conn: pc.(*net.UDPConn), gpe: c.GPE, port: c.Port, v6: c.IPv6,
		buf: make([]byte, 65536), oob: make([]byte, unix.CmsgSpace(4))}, nil
}

// SendNSH implements node.Output's part: one datagram to the locator's
// port, the DSCP written in the outer header through IP_TOS (or
// IPV6_TCLASS) ancillary data.
func (u *UDP) SendNSH(to netip.Addr, dscp uint8, pkt []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	if u.gpe {
		PutGPE(u.buf, 0)
		n = GPELen
	}
	n += copy(u.buf[n:], pkt)
	oob := u.oob[:unix.CmsgSpace(4)]
	clear(oob)
	hdr := (*unix.Cmsghdr)(unsafePointer(oob))
	if u.v6 {
		hdr.Level, hdr.Type = unix.IPPROTO_IPV6, unix.IPV6_TCLASS
	} else {
		hdr.Level, hdr.Type = unix.IPPROTO_IP, unix.IP_TOS
	}
	hdr.SetLen(unix.CmsgLen(4))
	data := oob[unix.CmsgLen(0):]
	putNative32(data, uint32(dscp)<<2)
	if to.Is4() && u.v6 {
		to = netip.AddrFrom16(to.As16())
	}
	if _, _, err := u.conn.WriteMsgUDPAddrPort(u.buf[:n], oob, netip.AddrPortFrom(to, u.port)); err != nil {
		u.TxErrors.Add(1)
	}
}

// Run reads datagrams until Close and hands each NSH packet, with its
// source address, to w. Only this goroutine uses w.
func (u *UDP) Run(w *node.Worker) error {
	buf := make([]byte, node.Headroom+65536)
	for {
		n, _, _, src, err := u.conn.ReadMsgUDPAddrPort(buf[node.Headroom:], nil)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		off := node.Headroom
		if u.gpe {
			h, err := ParseGPE(buf[off : off+n])
			if err != nil {
				u.RxBad.Add(1)
				continue
			}
			off += h
		}
		w.FromNetwork(buf[:node.Headroom+n], off, src.Addr().Unmap())
	}
}

// LocalPort is the bound port.
func (u *UDP) LocalPort() uint16 { return uint16(u.conn.LocalAddr().(*net.UDPAddr).Port) }

// Close stops Run.
func (u *UDP) Close() error { return u.conn.Close() }
