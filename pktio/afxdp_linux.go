package pktio

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// The AF_XDP driver: an XDP program on the interface redirects every
// frame of the bound queue into an XSK socket whose rings share one UMEM
// (packet memory) with us. Zero-copy where the driver offers it, copy
// mode otherwise (veth). Receive hands out views of UMEM frames and
// Release gives them back through the fill ring; Send copies into free
// UMEM frames and Flush publishes the transmit ring with one kick.

const (
	xdpFrameSize = 4096
	xdpFrames    = 4096 // half for receive, half for transmit
	xdpRingSize  = 2048 // every ring; holds all frames of its half
	xdpDescSize  = 16   // struct xdp_desc
)

// xdpRing is one of the four rings: producer and consumer indices
// shared with the kernel, descriptors after them.
type xdpRing struct {
	mem   []byte
	prod  *atomic.Uint32
	cons  *atomic.Uint32
	flags *atomic.Uint32
	desc  unsafe.Pointer // descriptor 0
	mask  uint32
	local uint32 // our side's index (producer or consumer), published with Store
}

func (r *xdpRing) addrDesc(i uint32) *uint64 {
	return (*uint64)(unsafe.Add(r.desc, uintptr(i&r.mask)*8))
}

func (r *xdpRing) frameDesc(i uint32) *unix.XDPDesc {
	return (*unix.XDPDesc)(unsafe.Add(r.desc, uintptr(i&r.mask)*xdpDescSize))
}

type afXDP struct {
	name     string
	cfg      Config
	fd       int
	queue    int
	zeroCopy bool
	// repair: the device may hand over frames with partial checksums
	// and AF_XDP carries no metadata saying so (see RepairPartial).
	repair  bool
	umem    []byte
	rx, tx  xdpRing
	fill    xdpRing
	comp    xdpRing
	dev     *xdpDevice // the interface's program and socket map
	inMap   bool       // our socket is in dev's map at queue
	mode    string
	poll    []unix.PollFd
	users   atomic.Int32
	shut    atomic.Bool
	once    sync.Once
	fillMu  sync.Mutex
	txFree  []uint64
	pending int

	rxc rxCounters
	txc txCounters

	ctlRx     *Batch
	ctlFrames [][]byte
	ctlRxMu   sync.Mutex
	txMu      sync.Mutex
}

// errXDPUnavailable wraps every reason AF_XDP cannot be used.
var errXDPUnavailable = errors.New("af_xdp unavailable")

func openAFXDP(dev string, cfg Config) (_ *afXDP, err error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, fmt.Errorf("pktio: %w", err)
	}
	q := max(cfg.Queue, 0)
	x := &afXDP{name: dev, cfg: cfg, fd: -1, queue: q}
	if q >= xdpMaxQueues {
		return nil, fmt.Errorf("pktio: %w on %s: queue %d beyond %d", errXDPUnavailable, dev, q, xdpMaxQueues-1)
	}
	defer func() {
		if err != nil {
			x.release()
			err = fmt.Errorf("pktio: %w on %s queue %d: %w", errXDPUnavailable, dev, q, err)
		}
	}()
	if x.fd, err = unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if x.umem, err = unix.Mmap(-1, 0, xdpFrames*xdpFrameSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE); err != nil {
		return nil, fmt.Errorf("umem: %w", err)
	}
	reg := unix.XDPUmemReg{Addr: uint64(uintptr(unsafe.Pointer(&x.umem[0]))), Len: uint64(len(x.umem)), Size: xdpFrameSize}
	if err := setsockoptRaw(x.fd, unix.SOL_XDP, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return nil, fmt.Errorf("XDP_UMEM_REG: %w", err)
	}
	for _, opt := range []int{unix.XDP_UMEM_FILL_RING, unix.XDP_UMEM_COMPLETION_RING, unix.XDP_RX_RING, unix.XDP_TX_RING} {
		if err := unix.SetsockoptInt(x.fd, unix.SOL_XDP, opt, xdpRingSize); err != nil {
			return nil, fmt.Errorf("ring size (option %d): %w", opt, err)
		}
	}
	var off unix.XDPMmapOffsets
	if err := getsockoptRaw(x.fd, unix.SOL_XDP, unix.XDP_MMAP_OFFSETS, unsafe.Pointer(&off), unsafe.Sizeof(off)); err != nil {
		return nil, fmt.Errorf("XDP_MMAP_OFFSETS: %w", err)
	}
	for _, r := range []struct {
		ring *xdpRing
		off  unix.XDPRingOffset
		pg   int64
		desc int
	}{
		{&x.rx, off.Rx, unix.XDP_PGOFF_RX_RING, xdpDescSize},
		{&x.tx, off.Tx, unix.XDP_PGOFF_TX_RING, xdpDescSize},
		{&x.fill, off.Fr, unix.XDP_UMEM_PGOFF_FILL_RING, 8},
		{&x.comp, off.Cr, unix.XDP_UMEM_PGOFF_COMPLETION_RING, 8},
	} {
		if err := mapRing(x.fd, r.ring, r.off, r.pg, r.desc); err != nil {
			return nil, err
		}
	}
	// Receive frames go to the fill ring; transmit frames wait free.
	for i := range uint32(xdpFrames / 2) {
		*x.fill.addrDesc(x.fill.local) = uint64(i) * xdpFrameSize
		x.fill.local++
	}
	x.fill.prod.Store(x.fill.local)
	for i := xdpFrames / 2; i < xdpFrames; i++ {
		x.txFree = append(x.txFree, uint64(i)*xdpFrameSize)
	}

	sa := &unix.SockaddrXDP{Flags: unix.XDP_ZEROCOPY | unix.XDP_USE_NEED_WAKEUP, Ifindex: uint32(ifi.Index), QueueID: uint32(q)}
	if err := unix.Bind(x.fd, sa); err == nil {
		x.zeroCopy = true
	} else {
		sa.Flags = unix.XDP_COPY | unix.XDP_USE_NEED_WAKEUP
		if err := unix.Bind(x.fd, sa); err != nil {
			return nil, fmt.Errorf("bind: %w", err)
		}
	}
	if x.dev, err = acquireXDP(ifi.Index); err != nil {
		return nil, err
	}
	if err := x.dev.xsks.Put(uint32(q), uint32(x.fd)); err != nil {
		return nil, fmt.Errorf("XSKMAP insert: %w", err)
	}
	x.inMap = true
	x.mode = x.dev.mode
	switch deviceDriver(dev) {
	case "veth", "virtio_net", "tun":
		x.repair = true
	}
	x.poll = []unix.PollFd{{Fd: int32(x.fd), Events: unix.POLLIN}}
	x.ctlRx = NewBatch(DefaultBatch)
	x.ctlFrames = x.ctlRx.Frames
	x.ctlRx.release = make([]int, 0, DefaultBatch)
	return x, nil
}

// xdpMaxQueues bounds the queues of one interface AF_XDP ports bind to.
const xdpMaxQueues = 64

// xdpDevice is the XDP program and socket map of one interface, shared by
// the AF_XDP ports of its queues (one per worker): an interface has one
// XDP program, and it redirects each queue to that queue's socket.
type xdpDevice struct {
	key    xdpKey
	xsks   *ebpf.Map
	prog   *ebpf.Program
	attach link.Link
	mode   string
	refs   int
}

// xdpKey names an interface across network namespaces.
type xdpKey struct {
	netns   uint64
	ifindex int
}

var xdpDevices = struct {
	sync.Mutex
	m map[xdpKey]*xdpDevice
}{m: map[xdpKey]*xdpDevice{}}

// acquireXDP returns the interface's XDP program and map, attaching
// them on first use (in the driver when it can, generic otherwise). The
// caller is on a thread in the interface's namespace.
func acquireXDP(ifindex int) (*xdpDevice, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	key := xdpKey{netns: st.Ino, ifindex: ifindex}
	xdpDevices.Lock()
	defer xdpDevices.Unlock()
	if d := xdpDevices.m[key]; d != nil {
		d.refs++
		return d, nil
	}
	d := &xdpDevice{key: key, refs: 1}
	var err error
	if d.xsks, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: xdpMaxQueues}); err != nil {
		return nil, fmt.Errorf("XSKMAP: %w", err)
	}
	if d.prog, err = ebpf.NewProgram(redirectProgram(d.xsks)); err != nil {
		d.xsks.Close()
		return nil, fmt.Errorf("XDP program: %w", err)
	}
	d.mode = "native"
	d.attach, err = link.AttachXDP(link.XDPOptions{Program: d.prog, Interface: ifindex, Flags: link.XDPDriverMode})
	if err != nil {
		d.mode = "generic"
		if d.attach, err = link.AttachXDP(link.XDPOptions{Program: d.prog, Interface: ifindex, Flags: link.XDPGenericMode}); err != nil {
			d.prog.Close()
			d.xsks.Close()
			return nil, fmt.Errorf("attach XDP: %w", err)
		}
	}
	xdpDevices.m[key] = d
	return d, nil
}

// release drops one port's use; the last detaches the program.
func (d *xdpDevice) release() {
	xdpDevices.Lock()
	defer xdpDevices.Unlock()
	if d.refs--; d.refs > 0 {
		return
	}
	delete(xdpDevices.m, d.key)
	_ = d.attach.Close()
	_ = d.prog.Close()
	_ = d.xsks.Close()
}

// redirectProgram is the XDP program: every frame of a queue with a
// socket in the map goes to it (bpf_redirect_map keyed by
// ctx->rx_queue_index); frames of other queues go on to the kernel.
func redirectProgram(xsks *ebpf.Map) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{
		Name: "wb_xsk_redirect",
		Type: ebpf.XDP,
		Instructions: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 16, asm.Word), // struct xdp_md.rx_queue_index
			asm.LoadMapPtr(asm.R1, xsks.FD()),
			asm.Mov.Imm(asm.R3, 2), // XDP_PASS when the queue has no socket
			asm.FnRedirectMap.Call(),
			asm.Return(),
		},
		License: "Dual MIT/GPL",
	}
}

// deviceDriver names the kernel driver of dev (ethtool's driver field),
// "" when it cannot be told.
func deviceDriver(dev string) string {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	info, err := unix.IoctlGetEthtoolDrvinfo(fd, dev)
	if err != nil {
		return ""
	}
	return unix.ByteSliceToString(info.Driver[:])
}

func mapRing(fd int, r *xdpRing, off unix.XDPRingOffset, pgoff int64, descSize int) error {
	size := int(off.Desc) + xdpRingSize*descSize
	mem, err := unix.Mmap(fd, pgoff, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap ring: %w", err)
	}
	r.mem = mem
	r.prod = (*atomic.Uint32)(unsafe.Pointer(&mem[off.Producer]))
	r.cons = (*atomic.Uint32)(unsafe.Pointer(&mem[off.Consumer]))
	r.flags = (*atomic.Uint32)(unsafe.Pointer(&mem[off.Flags]))
	r.desc = unsafe.Pointer(&mem[off.Desc])
	r.mask = xdpRingSize - 1
	return nil
}

func setsockoptRaw(fd, level, opt int, p unsafe.Pointer, n uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), n, 0)
	if e != 0 {
		return e
	}
	return nil
}

func getsockoptRaw(fd, level, opt int, p unsafe.Pointer, n uintptr) error {
	l := uint32(n)
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return e
	}
	return nil
}

func (x *afXDP) Driver() string   { return DriverAFXDP }
func (x *afXDP) Fallback() string { return "" }
func (x *afXDP) Name() string     { return fmt.Sprintf("%s/%d", x.name, x.queue) }

// Mode tells how frames move: "zero-copy" or "copy", and where the XDP
// program runs ("native" in the driver, "generic" after the stack made
// an skb).
func (x *afXDP) Mode() string {
	m := "copy/" + x.mode
	if x.zeroCopy {
		m = "zero-copy/" + x.mode
	}
	if x.repair {
		m += "/repairing-partial-checksums"
	}
	return m
}

func (x *afXDP) enter() bool {
	x.users.Add(1)
	if x.shut.Load() {
		x.users.Add(-1)
		return false
	}
	return true
}

func (x *afXDP) leave() { x.users.Add(-1) }

// Receive implements Port.
func (x *afXDP) Receive(b *Batch) error {
	b.reset()
	if !x.enter() {
		return ErrClosed
	}
	defer x.leave()
	deadline := time.Time{}
	for {
		prod := x.rx.prod.Load()
		cons := x.rx.local
		n := min(prod-cons, uint32(cap(b.Frames)))
		if n > 0 {
			var bytes uint64
			for i := range n {
				d := x.rx.frameDesc(cons + i)
				addr, l := int(d.Addr), int(d.Len)
				if addr < 0 || addr+l > len(x.umem) {
					continue // never from a sane kernel
				}
				f := x.umem[addr : addr+l : addr+l]
				if x.repair && RepairPartial(f) {
					x.rxc.csum.Add(1)
				}
				b.Frames = append(b.Frames, f)
				b.release = append(b.release, addr)
				bytes += uint64(l)
			}
			x.rx.local = cons + n
			x.rx.cons.Store(x.rx.local)
			x.rxc.frames.Add(uint64(len(b.Frames)))
			x.rxc.bytes.Add(bytes)
			x.rxc.batches.Add(1)
			return nil
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(x.cfg.PollTimeout)
		} else if !now.Before(deadline) {
			return nil
		}
		x.rxc.polls.Add(1)
		ms := int(deadline.Sub(now)/time.Millisecond) + 1
		_, err := unix.Poll(x.poll, ms)
		if x.shut.Load() {
			return ErrClosed
		}
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("pktio: poll %s: %w", x.Name(), err)
		}
	}
}

// Release implements Port: the frames go back to the fill ring.
func (x *afXDP) Release(b *Batch) {
	if x.enter() {
		x.fillMu.Lock()
		for _, addr := range b.release {
			*x.fill.addrDesc(x.fill.local) = uint64(addr) &^ (xdpFrameSize - 1)
			x.fill.local++
		}
		x.fill.prod.Store(x.fill.local)
		x.fillMu.Unlock()
		x.leave()
	}
	b.reset()
}

// reclaim takes completed transmit frames back.
func (x *afXDP) reclaim() {
	prod := x.comp.prod.Load()
	for ; x.comp.local != prod; x.comp.local++ {
		x.txFree = append(x.txFree, *x.comp.addrDesc(x.comp.local)&^(xdpFrameSize-1))
	}
	x.comp.cons.Store(x.comp.local)
}

// Send implements Port.
func (x *afXDP) Send(frame []byte) bool {
	if len(frame) > xdpFrameSize {
		x.txc.tooBig.Add(1)
		x.txc.drops.Add(1)
		return false
	}
	if !x.enter() {
		return false
	}
	defer x.leave()
	if len(x.txFree) == 0 {
		x.reclaim()
	}
	if len(x.txFree) == 0 {
		x.kick()
		x.reclaim()
		if len(x.txFree) == 0 {
			x.txc.ringFull.Add(1)
			x.txc.drops.Add(1)
			return false
		}
	}
	addr := x.txFree[len(x.txFree)-1]
	x.txFree = x.txFree[:len(x.txFree)-1]
	copy(x.umem[addr:], frame)
	d := x.tx.frameDesc(x.tx.local)
	d.Addr, d.Len, d.Options = addr, uint32(len(frame)), 0
	x.tx.local++
	x.pending++
	x.txc.frames.Add(1)
	x.txc.bytes.Add(uint64(len(frame)))
	return true
}

// kick publishes the transmit ring and wakes the kernel.
func (x *afXDP) kick() {
	x.tx.prod.Store(x.tx.local)
	x.pending = 0
	x.txc.kicks.Add(1)
	for {
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(x.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		if e != unix.EINTR {
			return
		}
	}
}

// Flush implements Port.
func (x *afXDP) Flush() error {
	if !x.enter() {
		return ErrClosed
	}
	defer x.leave()
	if x.pending > 0 {
		x.kick()
	}
	x.reclaim()
	return nil
}

// ReadBatch implements FrameLink (control traffic and tests).
func (x *afXDP) ReadBatch(bufs [][]byte, lens []int) (int, error) {
	x.ctlRxMu.Lock()
	defer x.ctlRxMu.Unlock()
	return readBatchVia(x, x.ctlRx, x.ctlFrames, bufs, lens)
}

// Write implements FrameLink (control traffic and tests).
func (x *afXDP) Write(frame []byte) error {
	x.txMu.Lock()
	defer x.txMu.Unlock()
	if !x.Send(frame) {
		return fmt.Errorf("pktio: send on %s: frame of %d bytes dropped", x.Name(), len(frame))
	}
	return x.Flush()
}

// Stats implements Port.
func (x *afXDP) Stats() Stats {
	var ks unix.XDPStatistics
	if x.enter() {
		_ = getsockoptRaw(x.fd, unix.SOL_XDP, unix.XDP_STATISTICS, unsafe.Pointer(&ks), unsafe.Sizeof(ks))
		x.leave()
	}
	s := Stats{
		RxFrames: x.rxc.frames.Load(), RxBytes: x.rxc.bytes.Load(),
		TxFrames: x.txc.frames.Load(), TxBytes: x.txc.bytes.Load(),
		RxKernelDrops: ks.Rx_dropped + ks.Rx_ring_full, RxRingFull: ks.Rx_ring_full + ks.Rx_fill_ring_empty_descs,
		RxPolls: x.rxc.polls.Load(), RxBatches: x.rxc.batches.Load(), RxCsumFinished: x.rxc.csum.Load(),
		TxDrops: x.txc.drops.Load(), TxRingFull: x.txc.ringFull.Load(), TxTooBig: x.txc.tooBig.Load(),
		TxSyscalls: x.txc.kicks.Load(),
	}
	s.RxDrops = s.RxKernelDrops
	return s
}

// Close implements FrameLink: detaches the program, releases the rings.
func (x *afXDP) Close() error {
	x.once.Do(func() {
		x.shut.Store(true)
		for x.users.Load() != 0 {
			time.Sleep(time.Millisecond)
		}
		x.release()
	})
	return nil
}

func (x *afXDP) release() {
	if x.dev != nil {
		if x.inMap {
			_ = x.dev.xsks.Delete(uint32(x.queue))
		}
		x.dev.release()
		x.dev = nil
	}
	if x.fd >= 0 {
		unix.Close(x.fd)
		x.fd = -1
	}
	for _, r := range []*xdpRing{&x.rx, &x.tx, &x.fill, &x.comp} {
		if r.mem != nil {
			_ = unix.Munmap(r.mem)
			r.mem = nil
		}
	}
	if x.umem != nil {
		_ = unix.Munmap(x.umem)
		x.umem = nil
	}
}
