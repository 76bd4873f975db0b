package pktio

import (
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The AF_PACKET driver: one receive socket with a TPACKET_V3 ring and
// PACKET_VNET_HDR, one transmit-only socket (bound with protocol 0, so it
// receives nothing) with a TPACKET_V2 ring. Two sockets keep the offload
// header off the transmit path, where every frame we send is already
// complete.

// TPACKET_V3 block descriptor (struct tpacket_block_desc with
// tpacket_hdr_v1) and packet header (struct tpacket3_hdr) offsets.
const (
	bdStatus      = 8
	bdNumPkts     = 12
	bdFirstPkt    = 16
	bdSeqNum      = 24 // the kernel numbers the blocks it opens
	t3NextOffset  = 0
	t3Snaplen     = 12
	t3Len         = 16
	t3Status      = 20
	t3Mac         = 24
	t3VlanTCI     = 32
	t3VlanTPID    = 36
	t3HdrLen      = 48 // TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
	t2DataOff     = 32 // TPACKET_ALIGN(sizeof(struct tpacket2_hdr)): TX data
	t2Len         = 4
	rxBlockSize   = 256 << 10 // holds a 64 KB GSO frame with room to spare
	rxFrameSize   = 2048      // TPACKET_V3 ignores it but checks it
	rxRetireMs    = 1         // a block with frames reaches us within ~1 ms
	tpStatusUser  = unix.TP_STATUS_USER
	tpStatusVLAN  = unix.TP_STATUS_VLAN_VALID
	tpStatusTPID  = unix.TP_STATUS_VLAN_TPID_VALID
	tpSendRequest = unix.TP_STATUS_SEND_REQUEST
	tpWrongFormat = unix.TP_STATUS_WRONG_FORMAT
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func u32(b []byte, off int) uint32 { return *(*uint32)(unsafe.Pointer(&b[off])) }
func u16(b []byte, off int) uint16 { return *(*uint16)(unsafe.Pointer(&b[off])) }
func status(b []byte, off int) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&b[off]))
}

type afPacket struct {
	name  string
	cfg   Config
	vnet  bool
	rxfd  int
	txfd  int
	poll  []unix.PollFd
	users atomic.Int32
	shut  atomic.Bool
	once  sync.Once

	// Receive ring and the cursor in it (receiving goroutine only).
	rx      []byte
	nblocks int
	cur     int  // block being read
	open    bool // cur is ours (TP_STATUS_USER) and being read
	left    int  // packets of cur not yet read
	off     int  // offset in cur of the next packet
	seg     Segmenter
	rxc     rxCounters
	// Blocks handed to user space and not yet given back: held[i] from
	// the moment the reader opens block i until its last reference goes;
	// refs[i] counts the batches with frames in it, plus one for the
	// reader while it reads it. A held block is never read again (the
	// cursor stops there when the ring has gone round) and goes back to
	// the kernel only when every batch that points into it is released.
	held []atomic.Bool
	refs []atomic.Int32
	// released wakes a reader waiting for a held block to come back;
	// waitT times that wait.
	released  chan struct{}
	waitT     *time.Timer
	ctlRx     *Batch // ReadBatch's batch
	ctlFrames [][]byte
	ctlRxMu   sync.Mutex

	// Transmit ring (transmitting goroutine only).
	tx        []byte
	txFrame   int // slot size
	txPerBlk  int
	txBlock   int
	txSlots   int
	txHead    int
	txPending int
	txMu      sync.Mutex // Write (control) against the data path's Send
	txc       txCounters

	fallback string // why the configured driver is not this one

	kmu    sync.Mutex
	kstats unix.TpacketStatsV3 // accumulated kernel statistics
}

// rxCounters are written by the receiving goroutine, read by Stats.
type rxCounters struct {
	frames, bytes, truncated, badOffload, csum, gso, segs, polls, batches, vlan, sockErrs, resyncs atomic.Uint64
}

type txCounters struct {
	frames, bytes, drops, ringFull, tooBig, kicks atomic.Uint64
}

func open(dev string, cfg Config) (Port, error) {
	switch cfg.Driver {
	case "", DriverAFPacket:
		return openAFPacket(dev, cfg)
	case DriverAFXDP:
		x, err := openAFXDP(dev, cfg)
		if err == nil {
			cfg.logger().Info("pktio: port open", "device", dev, "driver", DriverAFXDP, "queue", x.queue, "mode", x.Mode())
			return x, nil
		}
		p, perr := openAFPacket(dev, cfg)
		if perr != nil {
			return nil, fmt.Errorf("%w; and the fallback: %w", err, perr)
		}
		p.fallback = err.Error()
		cfg.logger().Warn("pktio: AF_XDP unavailable, falling back to AF_PACKET", "device", dev, "reason", err)
		return p, nil
	default:
		return nil, fmt.Errorf("pktio: unknown driver %q (want %s or %s)", cfg.Driver, DriverAFPacket, DriverAFXDP)
	}
}

func openAFPacket(dev string, cfg Config) (*afPacket, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, fmt.Errorf("pktio: %w", err)
	}
	p := &afPacket{name: dev, cfg: cfg, vnet: !cfg.NoVnetHdr, rxfd: -1, txfd: -1}
	if err := p.openRx(ifi.Index); err != nil {
		p.release()
		return nil, fmt.Errorf("pktio: af_packet receive on %s: %w", dev, err)
	}
	if err := p.openTx(ifi.Index); err != nil {
		p.release()
		return nil, fmt.Errorf("pktio: af_packet transmit on %s: %w", dev, err)
	}
	p.poll = []unix.PollFd{{Fd: int32(p.rxfd), Events: unix.POLLIN | unix.POLLERR}}
	p.held = make([]atomic.Bool, p.nblocks)
	p.refs = make([]atomic.Int32, p.nblocks)
	p.released = make(chan struct{}, 1)
	p.waitT = time.NewTimer(time.Hour)
	p.waitT.Stop()
	p.ctlRx = NewBatch(DefaultBatch)
	p.ctlFrames = p.ctlRx.Frames
	return p, nil
}

func (p *afPacket) openRx(ifindex int) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	p.rxfd = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("TPACKET_V3: %w", err)
	}
	if p.vnet {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			return fmt.Errorf("PACKET_VNET_HDR: %w", err)
		}
	}
	p.nblocks = max(4, p.cfg.RxRingBytes/rxBlockSize)
	req := unix.TpacketReq3{Block_size: rxBlockSize, Block_nr: uint32(p.nblocks), Frame_size: rxFrameSize,
		Frame_nr: uint32(rxBlockSize / rxFrameSize * p.nblocks), Retire_blk_tov: rxRetireMs}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_RX_RING: %w", err)
	}
	p.rx, err = unix.Mmap(fd, 0, rxBlockSize*p.nblocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap receive ring: %w", err)
	}
	// Bind only once the ring is there: nothing arrives outside it.
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	// Our own transmissions (from the transmit socket) are not input.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fmt.Errorf("PACKET_IGNORE_OUTGOING: %w", err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fmt.Errorf("promiscuous: %w", err)
	}
	group := p.cfg.FanoutGroup
	if group == 0 && p.cfg.Fanout {
		// Distinct for the interfaces of one process (ifindex), and
		// unlikely to meet another process's group on the same one.
		if group = uint16(os.Getpid()*131 + ifindex); group == 0 {
			group = 1
		}
	}
	if group != 0 {
		arg := int(group) | unix.PACKET_FANOUT_HASH<<16
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			return fmt.Errorf("PACKET_FANOUT group %d: %w", group, err)
		}
	}
	return nil
}

func (p *afPacket) openTx(ifindex int) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	p.txfd = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return fmt.Errorf("TPACKET_V2: %w", err)
	}
	// A malformed slot is skipped rather than stopping the ring.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_LOSS, 1); err != nil {
		return fmt.Errorf("PACKET_LOSS: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	p.txFrame = (t2DataOff + p.cfg.MaxFrame + 15) &^ 15
	page := os.Getpagesize()
	p.txBlock = page
	for p.txBlock < p.txFrame {
		p.txBlock <<= 1
	}
	p.txPerBlk = p.txBlock / p.txFrame
	nblk := (p.cfg.TxFrames + p.txPerBlk - 1) / p.txPerBlk
	p.txSlots = nblk * p.txPerBlk
	req := unix.TpacketReq{Block_size: uint32(p.txBlock), Block_nr: uint32(nblk), Frame_size: uint32(p.txFrame), Frame_nr: uint32(p.txSlots)}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_TX_RING: %w", err)
	}
	p.tx, err = unix.Mmap(fd, 0, p.txBlock*nblk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap transmit ring: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: 0, Ifindex: ifindex}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	return nil
}

func (p *afPacket) Driver() string   { return DriverAFPacket }
func (p *afPacket) Name() string     { return p.name }
func (p *afPacket) Fallback() string { return p.fallback }

// enter marks a call using the rings; Close waits for calls to leave
// before unmapping them.
func (p *afPacket) enter() bool {
	p.users.Add(1)
	if p.shut.Load() {
		p.users.Add(-1)
		return false
	}
	return true
}

func (p *afPacket) leave() { p.users.Add(-1) }

// Receive implements Port.
//
// The kernel's poll reports the ring readable while the block before the
// one it fills is not back in its hands (TP_STATUS_KERNEL), and an error
// left on the socket (ENETDOWN when the link goes down) until someone
// reads it. Either would make a plain poll loop spin: a block held by an
// unreleased batch is waited for through Release instead, a socket error
// is read (which clears it) and counted, and a wake-up the ring does not
// explain makes the reader look for the oldest block handed over (its
// cursor and the kernel's have parted) before waiting again.
func (p *afPacket) Receive(b *Batch) error {
	if len(b.release) > 0 {
		p.Release(b) // reused without a Release: the caller is done with it
	}
	b.reset()
	if !p.enter() {
		return ErrClosed
	}
	defer p.leave()
	deadline := time.Time{}
	woke := false // the last poll said the ring was readable
	for {
		p.fill(b)
		if len(b.Frames) > 0 {
			p.rxc.batches.Add(1)
			return nil
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(p.cfg.PollTimeout)
		} else if !now.Before(deadline) {
			return nil
		}
		wait := deadline.Sub(now)
		prev := (p.cur + p.nblocks - 1) % p.nblocks
		switch {
		case p.held[p.cur].Load() || p.held[prev].Load():
			// Ours, in a batch not yet released: the ring has gone round
			// to it, or the kernel's poll would report it ready.
			woke = false
			p.rxc.polls.Add(1)
			if !p.waitRelease(wait) {
				return ErrClosed
			}
			continue
		case woke:
			woke = false
			if p.resync() {
				continue
			}
			// Nothing explains the wake-up: do not ask again at once.
			p.rxc.polls.Add(1)
			if !p.waitRelease(min(wait, time.Millisecond)) {
				return ErrClosed
			}
			continue
		}
		p.rxc.polls.Add(1)
		ms := int(wait/time.Millisecond) + 1
		_, err := unix.Poll(p.poll, ms)
		if p.shut.Load() {
			return ErrClosed
		}
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("pktio: poll %s: %w", p.name, err)
		}
		re := p.poll[0].Revents
		if re&unix.POLLERR != 0 && p.socketError() {
			continue
		}
		woke = re != 0
	}
}

// socketError reads (and so clears) the error left on the receive
// socket; it reports whether there was one.
func (p *afPacket) socketError() bool {
	e, err := unix.GetsockoptInt(p.rxfd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil || e == 0 {
		return false
	}
	p.rxc.sockErrs.Add(1)
	p.cfg.logger().Warn("pktio: receive socket error", "device", p.name, "err", unix.Errno(e))
	return true
}

// waitRelease waits up to d for a Release to give a block back (or
// Close); it reports whether the port is still open.
func (p *afPacket) waitRelease(d time.Duration) bool {
	p.waitT.Reset(d)
	select {
	case <-p.released:
		p.waitT.Stop()
	case <-p.waitT.C:
	}
	return !p.shut.Load()
}

// resync puts the cursor on the oldest block handed over that no batch
// holds, when there is one and the cursor is elsewhere: the kernel
// filled blocks the reader was not looking at. It reports whether there
// is a block to read.
func (p *afPacket) resync() bool {
	best, bestSeq := -1, uint64(0)
	for i := range p.nblocks {
		blk := p.block(i)
		if p.held[i].Load() || status(blk, bdStatus).Load()&tpStatusUser == 0 {
			continue
		}
		if seq := *(*uint64)(unsafe.Pointer(&blk[bdSeqNum])); best < 0 || seq < bestSeq {
			best, bestSeq = i, seq
		}
	}
	if best < 0 {
		return false
	}
	if best != p.cur {
		p.rxc.resyncs.Add(1)
		p.cfg.logger().Warn("pktio: receive ring cursor resynchronised", "device", p.name, "from", p.cur, "to", best)
		p.cur = best
	}
	return true
}

// fill takes frames from the ring (and segments of a super-frame being
// cut) until b is full or the ring has nothing more for us.
func (p *afPacket) fill(b *Batch) {
	var frames, bytes uint64
	defer func() {
		p.rxc.frames.Add(frames)
		p.rxc.bytes.Add(bytes)
	}()
	for !b.full() {
		if p.seg.Active() {
			dst := b.room(p.seg.NextLen())
			if dst == nil {
				return // the arena is spent: the rest goes in the next batch
			}
			n, err := p.seg.Next(dst)
			if err != nil {
				p.rxc.badOffload.Add(1)
				p.seg = Segmenter{}
				continue
			}
			p.rxc.segs.Add(1)
			b.Frames = append(b.Frames, dst[:n])
			frames++
			bytes += uint64(n)
			continue
		}
		if p.left == 0 {
			p.doneBlock()
			if p.held[p.cur].Load() {
				return // round the ring to a block a batch still holds
			}
			blk := p.block(p.cur)
			if status(blk, bdStatus).Load()&tpStatusUser == 0 {
				return
			}
			p.held[p.cur].Store(true)
			p.refs[p.cur].Store(1)
			p.open = true
			p.left = int(u32(blk, bdNumPkts))
			p.off = int(u32(blk, bdFirstPkt))
			continue
		}
		blk := p.block(p.cur)
		if p.off < 0 || p.off+t3HdrLen > len(blk) {
			p.left = 0 // a block we cannot walk: give it back
			continue
		}
		h := blk[p.off:]
		next := int(u32(h, t3NextOffset))
		snap, wire, st, mac := int(u32(h, t3Snaplen)), int(u32(h, t3Len)), u32(h, t3Status), int(u16(h, t3Mac))
		vtci, vtpid := u16(h, t3VlanTCI), u16(h, t3VlanTPID)
		base := p.off
		p.left--
		p.off += next
		start, end := base+mac, base+mac+snap
		if end > len(blk) || start < base+t3HdrLen+4+VnetHdrLen {
			p.rxc.badOffload.Add(1)
			continue
		}
		if snap < wire {
			p.rxc.truncated.Add(1)
			continue
		}
		var vh VnetHdr
		if p.vnet {
			vh, _ = ParseVnetHdr(blk[start-VnetHdrLen : start])
		}
		if st&tpStatusVLAN != 0 {
			// The kernel took the tag off into metadata: put it back
			// where it was, in the room before the frame.
			tpid := uint16(0x8100)
			if st&tpStatusTPID != 0 {
				tpid = vtpid
			}
			copy(blk[start-4:], blk[start:start+12])
			start -= 4
			blk[start+12], blk[start+13] = byte(tpid>>8), byte(tpid)
			blk[start+14], blk[start+15] = byte(vtci>>8), byte(vtci)
			if vh.NeedsCsum() {
				vh.CsumStart += 4
			}
			p.rxc.vlan.Add(1)
		}
		f := blk[start:end:end]
		switch act, err := Prepare(f, vh, &p.seg); {
		case err != nil:
			p.rxc.badOffload.Add(1)
			continue
		case act == Segmenting:
			p.rxc.gso.Add(1)
			continue // the segments come at the top of the loop
		case act == ChecksumFinished:
			p.rxc.csum.Add(1)
		}
		if n := len(b.release); n == 0 || b.release[n-1] != p.cur {
			b.release = append(b.release, p.cur)
			p.refs[p.cur].Add(1)
		}
		b.Frames = append(b.Frames, f)
		frames++
		bytes += uint64(len(f))
	}
	if p.left == 0 {
		// The block's last frame is in b: it is b's to give back.
		p.doneBlock()
	}
}

// doneBlock lets go of the block being read once nothing more comes
// from it (every packet read, no super-frame of it being cut) and moves
// the cursor on.
func (p *afPacket) doneBlock() {
	if !p.open || p.left != 0 || p.seg.Active() {
		return
	}
	p.unref(p.cur, false)
	p.cur = (p.cur + 1) % p.nblocks
	p.open = false
}

// unref drops one reference to block i; the last one gives the block
// back to the kernel (and wakes a reader waiting for it when from
// Release).
func (p *afPacket) unref(i int, wake bool) {
	if p.refs[i].Add(-1) != 0 {
		return
	}
	status(p.block(i), bdStatus).Store(unix.TP_STATUS_KERNEL)
	p.held[i].Store(false) // after the status: a reader seeing it free sees it the kernel's
	if wake {
		select {
		case p.released <- struct{}{}:
		default:
		}
	}
}

func (p *afPacket) block(i int) []byte {
	return p.rx[i*rxBlockSize : (i+1)*rxBlockSize : (i+1)*rxBlockSize]
}

// Release implements Port.
func (p *afPacket) Release(b *Batch) {
	if p.enter() {
		for _, i := range b.release {
			p.unref(i, true)
		}
		p.leave()
	}
	b.reset()
}

// Send implements Port.
func (p *afPacket) Send(frame []byte) bool {
	if len(frame) > p.txFrame-t2DataOff {
		p.txc.tooBig.Add(1)
		p.txc.drops.Add(1)
		return false
	}
	if !p.enter() {
		return false
	}
	defer p.leave()
	slot := p.slot(p.txHead)
	st := status(slot, 0)
	if s := st.Load(); s != unix.TP_STATUS_AVAILABLE {
		if s&tpWrongFormat != 0 {
			st.Store(unix.TP_STATUS_AVAILABLE)
		} else {
			// The kernel still owns the slot: let it send what is
			// queued, then look once more.
			p.kick()
			if st.Load() != unix.TP_STATUS_AVAILABLE {
				p.txc.ringFull.Add(1)
				p.txc.drops.Add(1)
				return false
			}
		}
	}
	copy(slot[t2DataOff:], frame)
	*(*uint32)(unsafe.Pointer(&slot[t2Len])) = uint32(len(frame))
	st.Store(tpSendRequest)
	p.txHead++
	if p.txHead == p.txSlots {
		p.txHead = 0
	}
	p.txPending++
	p.txc.frames.Add(1)
	p.txc.bytes.Add(uint64(len(frame)))
	return true
}

func (p *afPacket) slot(i int) []byte {
	off := i/p.txPerBlk*p.txBlock + i%p.txPerBlk*p.txFrame
	return p.tx[off : off+p.txFrame : off+p.txFrame]
}

// kick asks the kernel to send every slot marked for sending.
func (p *afPacket) kick() {
	p.txc.kicks.Add(1)
	p.txPending = 0
	for {
		_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(p.txfd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		if errno != unix.EINTR {
			return
		}
	}
}

// Flush implements Port.
func (p *afPacket) Flush() error {
	if p.txPending == 0 {
		return nil
	}
	if !p.enter() {
		return ErrClosed
	}
	p.kick()
	p.leave()
	return nil
}

// ReadBatch implements FrameLink: Receive, copy, Release. It is for
// control traffic and tests on a port no data path receives from.
func (p *afPacket) ReadBatch(bufs [][]byte, lens []int) (int, error) {
	p.ctlRxMu.Lock()
	defer p.ctlRxMu.Unlock()
	return readBatchVia(p, p.ctlRx, p.ctlFrames, bufs, lens)
}

// readBatchVia is ReadBatch on top of Receive: frames copied out, the
// batch released at once.
func readBatchVia(p Port, b *Batch, frames [][]byte, bufs [][]byte, lens []int) (int, error) {
	b.Frames = frames[:0:min(len(bufs), cap(frames))]
	err := p.Receive(b)
	n := 0
	for _, f := range b.Frames {
		if len(f) <= len(bufs[n]) {
			lens[n] = copy(bufs[n], f)
			n++
		}
	}
	p.Release(b)
	return n, err
}

// Write implements FrameLink: one frame sent at once. Like ReadBatch it
// is for ports no data path sends on.
func (p *afPacket) Write(frame []byte) error {
	p.txMu.Lock()
	defer p.txMu.Unlock()
	if !p.Send(frame) {
		return fmt.Errorf("pktio: send on %s: frame of %d bytes dropped (ring full or too big)", p.name, len(frame))
	}
	return p.Flush()
}

// Stats implements Port.
func (p *afPacket) Stats() Stats {
	p.kmu.Lock()
	if p.enter() {
		if ks, err := unix.GetsockoptTpacketStatsV3(p.rxfd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			// Reading resets the kernel's counters: keep the sum.
			p.kstats.Packets += ks.Packets
			p.kstats.Drops += ks.Drops
			p.kstats.Freeze_q_cnt += ks.Freeze_q_cnt
		}
		p.leave()
	}
	ks := p.kstats
	p.kmu.Unlock()
	s := Stats{
		RxFrames: p.rxc.frames.Load(), RxBytes: p.rxc.bytes.Load(),
		TxFrames: p.txc.frames.Load(), TxBytes: p.txc.bytes.Load(),
		RxKernelDrops: uint64(ks.Drops), RxRingFull: uint64(ks.Freeze_q_cnt),
		RxTruncated: p.rxc.truncated.Load(), RxBadOffload: p.rxc.badOffload.Load(),
		RxCsumFinished: p.rxc.csum.Load(), RxGSOFrames: p.rxc.gso.Load(), RxGSOSegments: p.rxc.segs.Load(),
		RxPolls: p.rxc.polls.Load(), RxBatches: p.rxc.batches.Load(), RxVLANRestored: p.rxc.vlan.Load(),
		RxSocketErrors: p.rxc.sockErrs.Load(), RxResyncs: p.rxc.resyncs.Load(),
		TxDrops: p.txc.drops.Load(), TxRingFull: p.txc.ringFull.Load(), TxTooBig: p.txc.tooBig.Load(),
		TxSyscalls: p.txc.kicks.Load(),
	}
	s.RxDrops = s.RxKernelDrops + s.RxTruncated + s.RxBadOffload
	return s
}

// Close implements FrameLink. A receiver blocked in Receive returns
// within the poll timeout.
func (p *afPacket) Close() error {
	p.once.Do(func() {
		p.shut.Store(true)
		select { // a reader waiting for a Release
		case p.released <- struct{}{}:
		default:
		}
		for p.users.Load() != 0 {
			time.Sleep(time.Millisecond)
		}
		p.release()
	})
	return nil
}

func (p *afPacket) release() {
	if p.rx != nil {
		_ = unix.Munmap(p.rx)
		p.rx = nil
	}
	if p.tx != nil {
		_ = unix.Munmap(p.tx)
		p.tx = nil
	}
	for _, fd := range []int{p.rxfd, p.txfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	p.rxfd, p.txfd = -1, -1
}
