package pktio

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DriverTUN names the TUN driver.
const DriverTUN = "tun"

// The TUN driver: a layer-3 interface the element creates (IFF_TUN,
// IFF_NO_PI). Its "frames" are IP packets without a link header: what the
// host routes into the interface is received, what is sent is taken by
// the host as if it had arrived on the interface.
//
// The kernel moves one packet per read(2) or write(2) on a TUN descriptor
// (there is no recvmmsg for it), so batching is what the kernel allows:
// Receive waits once (in Go's poller, so Close wakes it) and then reads
// every packet already queued, up to the batch's capacity, without
// waiting again. Send writes at once (one write each; the kernel queues
// nothing per descriptor to kick later), so Flush has nothing to do and
// Send may be called from several goroutines.

// OpenTUN creates (or attaches to) the TUN interface name, sets it up and
// returns it as a Port whose frames are IP packets. cfg's MaxFrame
// (largest packet) and PollTimeout apply; the other fields do not.
func OpenTUN(name string, cfg Config) (Port, error) {
	cfg = cfg.withDefaults()
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("pktio: tun %q: bad interface name", name)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("pktio: tun %s: %w", name, err)
	}
	var req [unix.IFNAMSIZ + 64]byte // struct ifreq
	copy(req[:], name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("pktio: tun %s: TUNSETIFF: %w", name, e)
	}
	f := os.NewFile(uintptr(fd), "/dev/net/tun") // non-blocking: Go's poller serves it
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pktio: tun %s: %w", name, err)
	}
	t := &tunPort{name: name, cfg: cfg, f: f, rc: rc}
	if err := linkUp(name); err != nil {
		f.Close()
		return nil, fmt.Errorf("pktio: tun %s: %w", name, err)
	}
	t.ctlRx = NewBatch(DefaultBatch)
	t.ctlFrames = t.ctlRx.Frames
	cfg.logger().Info("pktio: port open", "device", name, "driver", DriverTUN)
	return t, nil
}

func linkUp(name string) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	return nil
}

type tunPort struct {
	name   string
	cfg    Config
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool

	rxFrames, rxBytes, rxTrunc, rxPolls, rxBatches atomic.Uint64
	txFrames, txBytes, txDrops, txTooBig, txCalls  atomic.Uint64

	ctlRx     *Batch
	ctlFrames [][]byte
}

func (t *tunPort) Driver() string   { return DriverTUN }
func (t *tunPort) Name() string     { return t.name }
func (t *tunPort) Fallback() string { return "" }
func (t *tunPort) Flush() error     { return nil }
func (t *tunPort) Release(b *Batch) { b.reset() }

// Receive implements Port: one wait, then every packet already queued.
func (t *tunPort) Receive(b *Batch) error {
	b.reset()
	if len(b.copies) < cap(b.Frames) || len(b.copies[0]) < t.cfg.MaxFrame+1 {
		// One more octet than the largest packet: a read that fills the
		// buffer was truncated by it.
		b.copies = make([][]byte, max(cap(b.Frames), DefaultBatch))
		for i := range b.copies {
			b.copies[i] = make([]byte, t.cfg.MaxFrame+1)
		}
		b.lens = make([]int, len(b.copies))
	}
	if err := t.f.SetReadDeadline(time.Now().Add(t.cfg.PollTimeout)); err != nil {
		return t.closedOr(err)
	}
	var bytes uint64
	err := t.rc.Read(func(fd uintptr) bool {
		for !b.full() {
			buf := b.copies[len(b.Frames)]
			n, err := unix.Read(int(fd), buf)
			if err != nil {
				if err == unix.EINTR {
					continue
				}
				break // EAGAIN: nothing more queued (or an error: wait)
			}
			if n > t.cfg.MaxFrame {
				t.rxTrunc.Add(1)
				continue
			}
			b.Frames = append(b.Frames, buf[:n])
			bytes += uint64(n)
		}
		if len(b.Frames) == 0 {
			t.rxPolls.Add(1)
			return false // wait for the descriptor
		}
		return true
	})
	if n := len(b.Frames); n > 0 {
		t.rxFrames.Add(uint64(n))
		t.rxBytes.Add(bytes)
		t.rxBatches.Add(1)
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return t.closedOr(err)
	}
	return nil
}

func (t *tunPort) closedOr(err error) error {
	// The raw conn reports a closed file with poll's own error, not
	// os.ErrClosed: the flag says it.
	if t.closed.Load() || errors.Is(err, os.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("pktio: tun %s: %w", t.name, err)
}

// Send implements Port: the packet is written at once (the kernel copies
// it); safe from several goroutines.
func (t *tunPort) Send(frame []byte) bool {
	if len(frame) > t.cfg.MaxFrame {
		t.txTooBig.Add(1)
		t.txDrops.Add(1)
		return false
	}
	t.txCalls.Add(1)
	if _, err := t.f.Write(frame); err != nil {
		t.txDrops.Add(1)
		return false
	}
	t.txFrames.Add(1)
	t.txBytes.Add(uint64(len(frame)))
	return true
}

// ReadBatch implements FrameLink.
func (t *tunPort) ReadBatch(bufs [][]byte, lens []int) (int, error) {
	return readBatchVia(t, t.ctlRx, t.ctlFrames, bufs, lens)
}

// Write implements FrameLink.
func (t *tunPort) Write(frame []byte) error {
	if !t.Send(frame) {
		return fmt.Errorf("pktio: send on %s: packet of %d bytes dropped", t.name, len(frame))
	}
	return nil
}

// Stats implements Port.
func (t *tunPort) Stats() Stats {
	s := Stats{RxFrames: t.rxFrames.Load(), RxBytes: t.rxBytes.Load(), RxTruncated: t.rxTrunc.Load(),
		RxPolls: t.rxPolls.Load(), RxBatches: t.rxBatches.Load(),
		TxFrames: t.txFrames.Load(), TxBytes: t.txBytes.Load(), TxDrops: t.txDrops.Load(), TxTooBig: t.txTooBig.Load(),
		TxSyscalls: t.txCalls.Load()}
	s.RxDrops = s.RxTruncated
	return s
}

// Close implements FrameLink: the interface goes with its descriptor; a
// receiver waiting in Receive returns ErrClosed at once.
func (t *tunPort) Close() error {
	t.closed.Store(true)
	return t.f.Close()
}
