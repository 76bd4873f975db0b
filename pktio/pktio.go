// Package pktio is the one packet I/O layer of wirebeat's data planes
// (lwAFTR, lwB4, DS-Lite AFTR and B4, SFC): a Port bound to an interface
// (and optionally one of its queues) that receives and transmits batches
// of Ethernet frames through preallocated memory, with no allocation per
// packet and no system call per frame.
//
// Drivers:
//   - "af_packet": TPACKET_V3 mmap ring for receive (the kernel fills
//     blocks of frames; one poll per block at most), TPACKET_V2 mmap ring
//     for transmit (frames are copied into the ring; one sendto kicks the
//     whole batch). With PACKET_VNET_HDR each received frame carries the
//     kernel's offload metadata: partial checksums are finished and GSO
//     super-frames cut into wire-sized segments (offload.go) before an
//     engine sees them.
//   - "copy": any FrameLink (an in-memory link in tests) adapted to Port.
//
// A Port is used by two goroutines at most: one receiving (Receive), one
// transmitting (Send, Flush); Release may come from either. Stats may be
// read from anywhere.
package pktio

import (
	"errors"
	"log/slog"
	"time"
)

// ErrClosed is returned by Receive and ReadBatch after Close.
var ErrClosed = errors.New("pktio: port closed")

// FrameLink is the least a packet interface offers: frames copied in and
// out one batch or one frame at a time. Every Port is one (for control
// traffic and tests); links that are only this are adapted by Adapt.
type FrameLink interface {
	// ReadBatch waits a short while for frames and copies up to
	// len(bufs) of them, their lengths in lens. It returns 0 when
	// nothing came.
	ReadBatch(bufs [][]byte, lens []int) (int, error)
	// Write sends one frame.
	Write(frame []byte) error
	Close() error
}

// Port is a packet interface with batched, zero-copy receive and batched
// transmit.
type Port interface {
	FrameLink
	// Receive waits up to the port's poll timeout for frames and fills
	// b.Frames with views of them (at most b's capacity). The views stay
	// valid until Release(b). Batches must be released in the order
	// they were received.
	Receive(b *Batch) error
	// Release gives the memory behind b's frames back to the port.
	Release(b *Batch)
	// Send queues a copy of frame for transmission and reports false
	// when it was dropped (ring full, too big); frame may be reused as
	// soon as Send returns.
	Send(frame []byte) bool
	// Flush starts transmission of every queued frame (one system call).
	Flush() error
	// Stats returns the port's counters since it was opened.
	Stats() Stats
	// Driver names the driver in use ("af_packet", "af_xdp", "copy").
	Driver() string
	// Fallback says why the driver in use is not the one configured
	// ("" when it is).
	Fallback() string
	// Name is the interface name (and queue when bound to one).
	Name() string
}

// Stats are a port's counters. Drops are frames lost on receive,
// whatever the cause; the fields after it say why.
type Stats struct {
	RxFrames, RxBytes uint64
	TxFrames, TxBytes uint64
	// RxDrops: frames received but never handed to the engine (the
	// kernel's ring drops plus truncated and undecodable frames).
	RxDrops uint64
	// TxDrops: frames Send refused (ring full, too big).
	TxDrops uint64
	// RingFull: times the receive ring was found full by the kernel
	// (frames were dropped), plus transmit attempts that found the
	// transmit ring full.
	RxRingFull, TxRingFull uint64

	// Causes of RxDrops and the offload work done.
	RxKernelDrops  uint64 // dropped by the kernel: ring full
	RxTruncated    uint64 // larger than the ring's frame room
	RxBadOffload   uint64 // vnet header or GSO frame not understood
	RxCsumFinished uint64 // partial checksums completed
	RxGSOFrames    uint64 // super-frames segmented
	RxGSOSegments  uint64 // segments made of them
	TxTooBig       uint64 // frames too big for a transmit slot
	TxSyscalls     uint64 // transmit kicks
	RxPolls        uint64 // waits for the receive ring
	RxBatches      uint64 // non-empty receives
	RxVLANRestored uint64 // VLAN tags put back from the ring's metadata
	// RxSocketErrors: errors the receive socket reported (ENETDOWN when
	// the link went down), read and cleared by the port.
	RxSocketErrors uint64
	// RxResyncs: times the receive cursor was found away from the
	// blocks the kernel filled and moved to the oldest of them (never,
	// unless something is wrong with the ring's bookkeeping).
	RxResyncs uint64
}

// Add adds o to s, field by field (per-worker counters summed on read).
func (s *Stats) Add(o Stats) {
	s.RxFrames += o.RxFrames
	s.RxBytes += o.RxBytes
	s.TxFrames += o.TxFrames
	s.TxBytes += o.TxBytes
	s.RxDrops += o.RxDrops
	s.TxDrops += o.TxDrops
	s.RxRingFull += o.RxRingFull
	s.TxRingFull += o.TxRingFull
	s.RxKernelDrops += o.RxKernelDrops
	s.RxTruncated += o.RxTruncated
	s.RxBadOffload += o.RxBadOffload
	s.RxCsumFinished += o.RxCsumFinished
	s.RxGSOFrames += o.RxGSOFrames
	s.RxGSOSegments += o.RxGSOSegments
	s.TxTooBig += o.TxTooBig
	s.TxSyscalls += o.TxSyscalls
	s.RxPolls += o.RxPolls
	s.RxBatches += o.RxBatches
	s.RxVLANRestored += o.RxVLANRestored
	s.RxSocketErrors += o.RxSocketErrors
	s.RxResyncs += o.RxResyncs
}

// Driver names.
const (
	DriverAFPacket = "af_packet"
	DriverAFXDP    = "af_xdp"
)

// Config says how to open a port. The zero value is usable.
type Config struct {
	// Driver: "" or "af_packet" (the default), or "af_xdp", which falls
	// back to af_packet when AF_XDP cannot be used on the interface (no
	// privileges, no XDP support, no such queue), saying so in the log
	// and in the port's Fallback.
	Driver string
	// Log gets the port's notable events (driver chosen, fallback).
	Log *slog.Logger
	// Queue is the device queue to bind to; -1 (or any negative value)
	// for the whole device. Only drivers with per-queue rings use it.
	Queue int
	// MaxFrame is the largest frame the engine sends or accepts without
	// segmentation (default 9216+64: jumbo frames plus tags).
	MaxFrame int
	// RxRingBytes and TxFrames size the rings (defaults 4 MiB, 256).
	RxRingBytes int
	TxFrames    int
	// PollTimeout bounds one Receive wait (default 100 ms) so a
	// receiver notices Close.
	PollTimeout time.Duration
	// FanoutGroup, when not zero, joins the port's receive socket to
	// a PACKET_FANOUT group (hash by flow) so several workers share the
	// device's traffic.
	FanoutGroup uint16
	// Fanout, when FanoutGroup is zero, joins a group named after this
	// process and the interface: every port of the process on the
	// interface opened with Fanout shares its traffic.
	Fanout bool
	// NoVnetHdr turns the offload metadata off (frames are then passed
	// on as the kernel gives them, checksums unfinished).
	NoVnetHdr bool
}

func (c Config) logger() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

func (c Config) withDefaults() Config {
	if c.MaxFrame <= 0 {
		c.MaxFrame = 9216 + 64
	}
	if c.RxRingBytes <= 0 {
		c.RxRingBytes = 4 << 20
	}
	if c.TxFrames <= 0 {
		c.TxFrames = 256
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = 100 * time.Millisecond
	}
	return c
}

// Batch is a set of received frames. Make one per receiving goroutine
// (or a few to pipeline) with NewBatch; it owns the memory segments of
// GSO super-frames are written to.
type Batch struct {
	// Frames are the received frames, valid until the batch is
	// released.
	Frames [][]byte

	arena []byte // segments of super-frames
	used  int
	// release is what the driver gives back on Release.
	release []int
	copies  [][]byte // copy driver: its own buffers
	lens    []int
}

// DefaultBatch is the batch size the data planes use.
const DefaultBatch = 64

// arenaBytes holds the segments of a few full-size super-frames.
const arenaBytes = 256 << 10

// NewBatch makes a batch of up to n frames.
func NewBatch(n int) *Batch {
	return &Batch{Frames: make([][]byte, 0, n), arena: make([]byte, arenaBytes), release: make([]int, 0, 64)}
}

// Len is the number of frames in the batch.
func (b *Batch) Len() int { return len(b.Frames) }

func (b *Batch) full() bool { return len(b.Frames) == cap(b.Frames) }

// room returns n bytes of arena or nil.
func (b *Batch) room(n int) []byte {
	if b.used+n > len(b.arena) {
		return nil
	}
	r := b.arena[b.used : b.used+n : b.used+n]
	b.used += n
	return r
}

func (b *Batch) reset() {
	b.Frames = b.Frames[:0]
	b.used = 0
	b.release = b.release[:0]
}

// Open opens a port on device dev with the driver cfg asks for.
func Open(dev string, cfg Config) (Port, error) {
	return open(dev, cfg.withDefaults())
}
