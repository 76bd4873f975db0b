package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/wirebeat/wirebeat/bfd"
)

// Well-known ports.
const (
	SingleHopPort = 3784 // RFC 5881
	MultiHopPort  = 4784 // RFC 5883
	// Source ports of RFC 5881 section 4 (RFC 5883 uses the same).
	SourcePortMin = 49152
	SourcePortMax = 65535
)

// batchSize is how many packets one recvmmsg/sendmmsg moves at most.
const batchSize = 64

// Config says which packets a UDP transport carries.
type Config struct {
	// Kind is bfd.PathSingleHop or bfd.PathMultiHop.
	Kind bfd.PathKind
	// IPv6 selects the address family.
	IPv6 bool
	// Interface binds both sockets to a device. Required for single hop;
	// packets from it are keyed with this name.
	Interface string
	// Local is the address to receive on and send from; optional for
	// single hop, required for multihop (sessions are keyed by it).
	Local netip.Addr
	// TxTTL is the TTL or hop limit sent; 0 means 255. Single hop always
	// sends 255.
	TxTTL uint8
	// Port overrides the well-known destination and listening port
	// (tests that run two transports in one namespace).
	Port int
	// AnyLocal (multihop only, Local left zero) receives on every local
	// address and sends each session's packets from its own Path.Local,
	// which may be any address of a local route ("AnyIP", e.g. a whole
	// prefix routed to lo): one socket serves sessions from many local
	// addresses, as an AFTR facing many B4s does.
	AnyLocal bool
	// SocketBuffer is the receive and send buffer size in bytes; 0 means
	// 4 MiB, enough for a burst of thousands of packets.
	SocketBuffer int
	Log          *slog.Logger
}

// batchConn is what ipv4.PacketConn and ipv6.PacketConn have in common.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// Counters of a transport.
type Counters struct {
	RxPackets, TxPackets, TxErrors, RxErrors uint64
}

// UDP is one transport. It implements bfd.Sender and bfd.Flusher.
type UDP struct {
	cfg     Config
	eng     *bfd.Engine
	log     *slog.Logger
	rxConn  *net.UDPConn
	txConn  *net.UDPConn
	rx, tx  batchConn
	port    int
	srcPort int

	// Send side: the engine queues under its lock (Send) and flushes
	// after releasing it, so the sendmmsg system call never holds up
	// the engine. Two queues: one fills while the other is written.
	qmu     sync.Mutex
	active  *sendQueue
	spare   *sendQueue
	flushMu sync.Mutex

	mu       sync.Mutex
	counters Counters
	closed   chan struct{}
}

// Open creates the sockets. Call Run to start receiving.
func Open(cfg Config, eng *bfd.Engine) (*UDP, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	port := cfg.Port
	switch cfg.Kind {
	case bfd.PathSingleHop:
		if cfg.Interface == "" {
			return nil, errors.New("bfd transport: single hop needs an interface")
		}
		cfg.TxTTL = 255
		if port == 0 {
			port = SingleHopPort
		}
	case bfd.PathMultiHop:
		if !cfg.Local.IsValid() && !cfg.AnyLocal {
			return nil, errors.New("bfd transport: multihop needs a local address or AnyLocal")
		}
		if cfg.Local.IsValid() && cfg.AnyLocal {
			return nil, errors.New("bfd transport: AnyLocal excludes a local address")
		}
		if port == 0 {
			port = MultiHopPort
		}
	case bfd.PathSBFD:
		// S-BFD initiators send to the reflector's port and hear the
		// answers on their own source port: one socket does both.
		if port == 0 {
			port = bfd.SBFDPort
		}
	default:
		return nil, fmt.Errorf("bfd transport: unsupported path kind %v", cfg.Kind)
	}
	if cfg.TxTTL == 0 {
		cfg.TxTTL = 255
	}
	if cfg.Local.IsValid() && cfg.Local.Is6() != cfg.IPv6 && !cfg.Local.Is4In6() {
		return nil, fmt.Errorf("bfd transport: local address %s is not in the transport's family", cfg.Local)
	}
	u := &UDP{cfg: cfg, eng: eng, log: cfg.Log, port: port, closed: make(chan struct{})}
	var err error
	if cfg.Kind != bfd.PathSBFD {
		if u.rxConn, err = u.listen(port); err != nil {
			return nil, fmt.Errorf("bfd transport: listen on port %d: %w", port, err)
		}
	}
	if u.txConn, u.srcPort, err = u.listenSourcePort(); err != nil {
		if u.rxConn != nil {
			u.rxConn.Close()
		}
		return nil, err
	}
	if u.rxConn == nil {
		u.rxConn = u.txConn
	}
	if err := u.setup(); err != nil {
		u.Close()
		return nil, err
	}
	u.active, u.spare = newSendQueue(sendQueueLen), newSendQueue(sendQueueLen)
	return u, nil
}

func (u *UDP) network() string {
	if u.cfg.IPv6 {
		return "udp6"
	}
	return "udp4"
}

func (u *UDP) bindAddr(port int) string {
	if u.cfg.Local.IsValid() {
		return netip.AddrPortFrom(u.cfg.Local, uint16(port)).String()
	}
	if u.cfg.IPv6 {
		return fmt.Sprintf("[::]:%d", port)
	}
	return fmt.Sprintf("0.0.0.0:%d", port)
}

// listen opens a UDP socket bound to port, to the interface if any, with
// SO_REUSEADDR so that transports on different interfaces share the port.
func (u *UDP) listen(port int) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			s := int(fd)
			if serr = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			if u.cfg.Interface != "" {
				if serr = unix.BindToDevice(s, u.cfg.Interface); serr != nil {
					serr = fmt.Errorf("bind to device %s: %w", u.cfg.Interface, serr)
					return
				}
			}
			size := u.cfg.SocketBuffer
			if size == 0 {
				size = 4 << 20
			}
			// The FORCE variants pass rmem_max/wmem_max as root; the
			// plain ones are the fallback.
			if unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
				_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
			}
			if unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size) != nil {
				_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUF, size)
			}
			if u.cfg.AnyLocal {
				// Sending from addresses of local routes needs
				// transparent mode (CAP_NET_ADMIN).
				if u.cfg.IPv6 {
					serr = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT, 1)
				} else {
					serr = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_TRANSPARENT, 1)
				}
				if serr != nil {
					serr = fmt.Errorf("transparent socket for AnyLocal: %w", serr)
					return
				}
			}
			if u.cfg.IPv6 {
				serr = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), u.network(), u.bindAddr(port))
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// listenSourcePort binds the send socket to a free port of 49152-65535,
// starting at a random one (RFC 5881 section 4).
func (u *UDP) listenSourcePort() (*net.UDPConn, int, error) {
	const span = SourcePortMax - SourcePortMin + 1
	start := rand.IntN(span)
	var lastErr error
	for i := 0; i < 64; i++ {
		port := SourcePortMin + (start+i*977)%span
		c, err := u.listen(port)
		if err == nil {
			return c, port, nil
		}
		lastErr = err
	}
	return nil, 0, fmt.Errorf("bfd transport: no free source port in %d-%d: %w", SourcePortMin, SourcePortMax, lastErr)
}

// setup sets TTL/hop limit on send and asks for TTL and destination
// address on receive.
func (u *UDP) setup() error {
	if u.cfg.IPv6 {
		rx, tx := ipv6.NewPacketConn(u.rxConn), ipv6.NewPacketConn(u.txConn)
		if u.rxConn == u.txConn {
			rx = tx
		}
		if err := tx.SetHopLimit(int(u.cfg.TxTTL)); err != nil {
			return fmt.Errorf("bfd transport: set hop limit: %w", err)
		}
		if err := rx.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true); err != nil {
			return fmt.Errorf("bfd transport: ask for hop limit: %w", err)
		}
		u.rx, u.tx = rx, tx
		return nil
	}
	rx, tx := ipv4.NewPacketConn(u.rxConn), ipv4.NewPacketConn(u.txConn)
	if u.rxConn == u.txConn {
		rx = tx
	}
	if err := tx.SetTTL(int(u.cfg.TxTTL)); err != nil {
		return fmt.Errorf("bfd transport: set TTL: %w", err)
	}
	if err := rx.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst, true); err != nil {
		return fmt.Errorf("bfd transport: ask for TTL: %w", err)
	}
	u.rx, u.tx = rx, tx
	return nil
}

// SourcePort is the UDP source port of every packet this transport sends.
func (u *UDP) SourcePort() int { return u.srcPort }

// Key returns the PathKey sessions of this transport use for peer remote,
// built the same way received packets are keyed.
func (u *UDP) Key(remote netip.Addr) bfd.PathKey {
	k := bfd.PathKey{Kind: u.cfg.Kind, Remote: remote.Unmap().WithZone("")}
	switch u.cfg.Kind {
	case bfd.PathSingleHop:
		k.Interface = u.cfg.Interface
	case bfd.PathMultiHop:
		k.Local = u.cfg.Local.Unmap().WithZone("")
	}
	return k
}

// KeyFrom is Key for an AnyLocal multihop transport, whose sessions each
// have their own local address.
func (u *UDP) KeyFrom(local, remote netip.Addr) bfd.PathKey {
	return bfd.PathKey{Kind: u.cfg.Kind, Local: local.Unmap().WithZone(""), Remote: remote.Unmap().WithZone("")}
}

// Send queues pkt for key.Remote; Flush sends the queue. The engine calls
// it under its lock.
func (u *UDP) Send(key bfd.PathKey, pkt []byte) error {
	u.qmu.Lock()
	for u.active.n == len(u.active.msgs) {
		u.qmu.Unlock()
		u.Flush()
		u.qmu.Lock()
	}
	q := u.active
	i := q.n
	n := copy(q.bufs[i][:], pkt)
	m := &q.msgs[i]
	m.Buffers[0] = q.bufs[i][:n]
	a := m.Addr.(*net.UDPAddr)
	r := key.Remote
	if u.cfg.IPv6 {
		q.ips[i] = r.As16()
		a.IP = q.ips[i][:16]
		if r.Is6() && (r.IsLinkLocalUnicast() || r.IsLinkLocalMulticast()) {
			a.Zone = u.cfg.Interface
		} else {
			a.Zone = ""
		}
	} else {
		b := r.Unmap().As4()
		copy(q.ips[i][:4], b[:])
		a.IP = q.ips[i][:4]
		a.Zone = ""
	}
	a.Port = u.port
	m.OOB = nil
	if u.cfg.AnyLocal {
		m.OOB = sourceCmsg(q.oobs[i][:], u.cfg.IPv6, key.Local)
	}
	q.n++
	u.qmu.Unlock()
	return nil
}

// Flush sends the queued packets with sendmmsg.
func (u *UDP) Flush() {
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	u.qmu.Lock()
	q := u.active
	u.active, u.spare = u.spare, u.active
	u.qmu.Unlock()
	msgs := q.msgs[:q.n]
	sent := 0
	for sent < len(msgs) {
		n, err := u.tx.WriteBatch(msgs[sent:], 0)
		if err != nil {
			u.mu.Lock()
			u.counters.TxErrors += uint64(len(msgs) - sent)
			u.mu.Unlock()
			u.log.Debug("bfd transport send", "err", err)
			break
		}
		sent += n
	}
	q.n = 0
	u.mu.Lock()
	u.counters.TxPackets += uint64(sent)
	u.mu.Unlock()
}

// Run reads batches until Close and hands them to the engine. It
// allocates nothing per packet.
func (u *UDP) Run() error {
	rc, err := u.rxConn.SyscallConn()
	if err != nil {
		return fmt.Errorf("bfd transport: %w", err)
	}
	batch := newRxBatch(batchSize)
	in := make([]bfd.Inbound, batchSize)
	for {
		n, err := batch.read(rc)
		if err != nil {
			select {
			case <-u.closed:
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			u.mu.Lock()
			u.counters.RxErrors++
			u.mu.Unlock()
			u.log.Debug("bfd transport receive", "err", err)
			continue
		}
		k := 0
		for i := 0; i < n; i++ {
			payload, oob, src := batch.datagram(i)
			if !src.IsValid() {
				continue
			}
			ttl, dst := parseCmsg(oob)
			key := bfd.PathKey{Kind: u.cfg.Kind, Remote: src.Addr()}
			switch u.cfg.Kind {
			case bfd.PathSingleHop:
				key.Interface = u.cfg.Interface
			case bfd.PathMultiHop:
				key.Local = dst.Unmap()
			}
			in[k] = bfd.Inbound{Data: payload, Path: key, TTL: ttl}
			k++
		}
		u.mu.Lock()
		u.counters.RxPackets += uint64(k)
		u.mu.Unlock()
		u.eng.Receive(in[:k])
	}
}

// Counters returns the transport's counters.
func (u *UDP) Counters() Counters {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.counters
}

// Close closes both sockets; Run returns.
func (u *UDP) Close() error {
	select {
	case <-u.closed:
		return nil
	default:
		close(u.closed)
	}
	var errs []error
	if u.rxConn != nil {
		errs = append(errs, u.rxConn.Close())
	}
	if u.txConn != nil && u.txConn != u.rxConn {
		errs = append(errs, u.txConn.Close())
	}
	return errors.Join(errs...)
}

// sourceCmsg writes into b (40 bytes) an IP_PKTINFO or IPV6_PKTINFO
// control message that makes a packet leave from src.
func sourceCmsg(b []byte, ipv6 bool, src netip.Addr) []byte {
	clear(b)
	if ipv6 {
		// cmsghdr (16) + struct in6_pktinfo {addr[16]; ifindex u32}
		binary.NativeEndian.PutUint64(b[0:8], 16+20)
		binary.NativeEndian.PutUint32(b[8:12], unix.IPPROTO_IPV6)
		binary.NativeEndian.PutUint32(b[12:16], unix.IPV6_PKTINFO)
		a := src.As16()
		copy(b[16:32], a[:])
		return b[:40]
	}
	// cmsghdr (16) + struct in_pktinfo {ifindex i32; spec_dst[4]; addr[4]}
	binary.NativeEndian.PutUint64(b[0:8], 16+12)
	binary.NativeEndian.PutUint32(b[8:12], unix.IPPROTO_IP)
	binary.NativeEndian.PutUint32(b[12:16], unix.IP_PKTINFO)
	a := src.Unmap().As4()
	copy(b[20:24], a[:])
	return b[:32]
}
