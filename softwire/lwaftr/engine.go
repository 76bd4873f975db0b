// Package lwaftr is the lw4o6 lwAFTR data plane (RFC 7596) over Ethernet
// frames: decapsulation from B4s with the binding check, encapsulation
// towards them, hairpinning, ICMP policy and errors, fragmentation and
// reassembly, ARP and NDP, VLAN tags and filters. It knows nothing of
// YANG: the softwire package maps configuration onto Config.
//
// The engine is single-threaded and allocation-free per packet: frames
// are copied into preallocated output buffers, and Flush hands them to a
// Sender. Changes to the binding table are applied between batches.
package lwaftr

import (
	"encoding/binary"
	"fmt"
	"time"
	"unsafe"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
)

// Port names the two sides.
type Port int

// The two sides of the lwAFTR.
const (
	External Port = iota // IPv4, towards the Internet
	Internal             // IPv6, towards the B4s
)

func (p Port) String() string {
	if p == External {
		return "external"
	}
	return "internal"
}

// Sender receives the frames of a flush. frame is only valid during the
// call.
type Sender interface {
	Send(p Port, frame []byte)
}

const (
	etIPv4 = 0x0800
	etARP  = 0x0806
	etVLAN = 0x8100
	etIPv6 = 0x86dd
)

// queueFrames is how many frames a side buffers before an early flush.
const queueFrames = 256

// outq is the output queue of one side: preallocated buffers, filled in
// order, handed out by Flush.
type outq struct {
	bufs    [][]byte
	lens    []int
	needMAC []bool // destination MAC is the next hop's, filled at flush
	n       int
}

func newOutq(bufSize int) *outq {
	q := &outq{bufs: make([][]byte, queueFrames), lens: make([]int, queueFrames), needMAC: make([]bool, queueFrames)}
	for i := range q.bufs {
		q.bufs[i] = make([]byte, bufSize)
	}
	return q
}

// side is the live state of one interface.
type side struct {
	cfg     Side
	q       *outq
	ingress *Filter
	egress  *Filter
	// nhMAC is the next hop's MAC, configured or learnt.
	nhMAC   [6]byte
	nhKnown bool
	// ICMP error rate limit: tokens left in the current period.
	rlStart  time.Time
	rlTokens uint32
}

// Engine is one lwAFTR instance.
type Engine struct {
	cfg    Config
	bt     *bindingtable.Table
	sides  [2]side
	sender Sender
	extIP  uint32
	now    func() time.Time

	fragID4 uint16
	fragID6 uint32

	r4, r6  *reassembler
	scratch []byte // builds ICMP errors and reassembled packets
	icmpBuf []byte

	unknown UnknownSource // failover: sources without a binding
	local   LocalUDP      // the unknown source's, when it takes UDP to us
	marks   *UseMarks     // failover: bindings that carried traffic

	homes   [64]uint32 // ReceiveBatch: where each frame's lookup reads
	touched uint32     // keeps ReceiveBatch's prefetching loads alive
	// sharedTable: bt belongs to a bindingtable.Shared; never change it.
	sharedTable bool

	// C counts what happened, by Snabb's counter names where they exist.
	C Counters
}

// New builds an engine over a binding table. It keeps the table: the
// caller changes it only through the engine's Apply methods.
func New(cfg Config, bt *bindingtable.Table, sender Sender) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, bt: bt, sender: sender, now: time.Now,
		fragID4: 0x4242, fragID6: 0x42424242,
		scratch: make([]byte, 70000), icmpBuf: make([]byte, 2048)}
	e.extIP = binary.BigEndian.Uint32(cfg.External.IP)
	bufSize := max(cfg.External.MTU, cfg.Internal.MTU, 1500) + 64
	for i, sc := range []Side{cfg.External, cfg.Internal} {
		s := &e.sides[i]
		s.cfg = sc
		s.q = newOutq(bufSize)
		s.nhMAC, s.nhKnown = sc.NextHopMAC, sc.NextHopMACSet
		s.rlTokens = sc.ErrorRatePackets
		var err error
		if sc.IngressFilter != "" {
			if s.ingress, err = CompileFilter(sc.IngressFilter); err != nil {
				return nil, err
			}
		}
		if sc.EgressFilter != "" {
			if s.egress, err = CompileFilter(sc.EgressFilter); err != nil {
				return nil, err
			}
		}
	}
	e.r4 = newReassembler(cfg.External.MaxPackets, cfg.External.MaxFragmentsPerPacket)
	e.r6 = newReassembler(cfg.Internal.MaxPackets, cfg.Internal.MaxFragmentsPerPacket)
	return e, nil
}

// SetClock replaces the clock used for rate limiting (tests, check).
func (e *Engine) SetClock(now func() time.Time) {
	e.now = now
	for i := range e.sides {
		e.sides[i].rlStart = now()
	}
}

// Table returns the binding table.
func (e *Engine) Table() *bindingtable.Table { return e.bt }

// AddBinding adds or replaces a softwire; call it between batches.
func (e *Engine) AddBinding(sw bindingtable.Softwire) error { return e.bt.Add(sw) }

// RemoveBinding removes a softwire; call it between batches.
func (e *Engine) RemoveBinding(ipv4 uint32, psid uint16) bool { return e.bt.Remove(ipv4, psid) }

// Start sends the first ARP request and neighbour solicitation for next
// hops that have no configured MAC.
func (e *Engine) Start() {
	if !e.sides[External].nhKnown {
		e.sendARPRequest()
	}
	if !e.sides[Internal].nhKnown {
		e.sendNS()
	}
}

// NextHopMAC reports the resolved next-hop MAC of a side.
func (e *Engine) NextHopMAC(p Port) ([6]byte, bool) {
	return e.sides[p].nhMAC, e.sides[p].nhKnown
}

// alloc returns a buffer for a frame on side p, flushing first when the
// queue is full, and writes the Ethernet header: destination dst (or the
// next hop's when dst is nil), our MAC, the side's VLAN tag, etype. It
// returns the buffer and the offset of the layer-3 header.
func (e *Engine) alloc(p Port, dst []byte, etype uint16) ([]byte, int) {
	s := &e.sides[p]
	if s.q.n == queueFrames {
		e.flushSide(p)
	}
	b := s.q.bufs[s.q.n]
	s.q.needMAC[s.q.n] = dst == nil
	if dst != nil {
		copy(b[0:6], dst)
	} else {
		copy(b[0:6], s.nhMAC[:])
	}
	copy(b[6:12], s.cfg.MAC[:])
	off := 12
	if s.cfg.VLAN != 0 {
		binary.BigEndian.PutUint16(b[12:], etVLAN)
		binary.BigEndian.PutUint16(b[14:], s.cfg.VLAN)
		off = 16
	}
	binary.BigEndian.PutUint16(b[off:], etype)
	return b, off + 2
}

// commit queues the frame of length n built in the last alloc, unless
// the egress filter refuses it.
func (e *Engine) commit(p Port, n int, etype uint16, l3off int) {
	s := &e.sides[p]
	if s.egress != nil && !s.egress.Match(etype, s.q.bufs[s.q.n][l3off:n]) {
		e.C.DropOutByFilter[p]++
		return
	}
	s.q.lens[s.q.n] = n
	s.q.n++
}

// Flush hands every queued frame to the sender. Frames for the next hop
// get its MAC now; while it is unresolved they are dropped, as a real
// interface without a neighbour entry does.
func (e *Engine) Flush() {
	if e.unknown != nil {
		e.unknown.Poll(e)
	}
	e.flushSide(External)
	e.flushSide(Internal)
	// Between batches is when a binding-table growth moves on (unless
	// the table is shared: its writer moves it on).
	if !e.sharedTable {
		e.bt.Migrate(256)
	}
}

// SetSharedTable makes the engine read bt, which it never changes (one
// copy of a bindingtable.Shared, handed in for each batch by a worker).
// AddBinding and RemoveBinding are then not to be used.
func (e *Engine) SetSharedTable(bt *bindingtable.Table) {
	e.bt = bt
	e.sharedTable = true
}

// SetNextHopMAC sets the next hop's MAC of side p as if learnt: workers
// share what one of them learnt from ARP or neighbour discovery.
func (e *Engine) SetNextHopMAC(p Port, mac [6]byte) {
	e.sides[p].nhMAC, e.sides[p].nhKnown = mac, true
}

// Add adds o's counts to c: the counters of several workers summed on
// read. Every field of Counters is a uint64 or an array of them (a test
// checks), so the struct is added as one array.
func (c *Counters) Add(o *Counters) {
	const n = unsafe.Sizeof(Counters{}) / 8
	a, b := (*[n]uint64)(unsafe.Pointer(c)), (*[n]uint64)(unsafe.Pointer(o))
	for i := range a {
		a[i] += b[i]
	}
}

func (e *Engine) flushSide(p Port) {
	s := &e.sides[p]
	for i := 0; i < s.q.n; i++ {
		b := s.q.bufs[i][:s.q.lens[i]]
		if s.q.needMAC[i] {
			if !s.nhKnown {
				e.C.DropNoNextHopMAC[p]++
				continue
			}
			copy(b[0:6], s.nhMAC[:])
		}
		e.C.OutFrames[p]++
		e.C.OutBytes[p] += uint64(len(b))
		e.sender.Send(p, b)
	}
	s.q.n = 0
}

// Receive processes one frame that arrived on side p.
func (e *Engine) Receive(p Port, frame []byte) {
	e.C.InFrames[p]++
	e.C.InBytes[p] += uint64(len(frame))
	etype, l3, ok := e.untag(p, frame)
	if !ok {
		return
	}
	s := &e.sides[p]
	if s.ingress != nil && !s.ingress.Match(etype, l3) {
		e.C.DropInByFilter[p]++
		return
	}
	eth := frame[0:12]
	if p == External {
		switch etype {
		case etIPv4:
			e.fromInet(l3, eth)
		case etARP:
			e.arp(l3)
		default:
			e.C.DropMisplaced[p]++
		}
		return
	}
	if etype != etIPv6 {
		e.C.DropMisplaced[p]++
		return
	}
	e.fromB4(l3, eth)
}

// ReceiveStick processes a frame of the single interface of on-a-stick
// mode: with distinct VLAN tags the tag picks the side, otherwise the
// Ethernet type does.
func (e *Engine) ReceiveStick(frame []byte) {
	e.Receive(e.Classify(frame), frame)
}

// Classify tells which side a frame on the shared interface belongs to.
func (e *Engine) Classify(frame []byte) Port {
	ev, iv := e.sides[External].cfg.VLAN, e.sides[Internal].cfg.VLAN
	if len(frame) >= 16 && ev != iv && binary.BigEndian.Uint16(frame[12:]) == etVLAN {
		if binary.BigEndian.Uint16(frame[14:])&0xfff == iv {
			return Internal
		}
		return External
	}
	et := uint16(0)
	if len(frame) >= 14 {
		et = binary.BigEndian.Uint16(frame[12:])
	}
	if et == etVLAN && len(frame) >= 18 {
		et = binary.BigEndian.Uint16(frame[16:])
	}
	if et == etIPv6 {
		return Internal
	}
	return External
}

// untag checks the VLAN tag against the side's and returns the Ethernet
// type and the layer-3 packet.
func (e *Engine) untag(p Port, f []byte) (uint16, []byte, bool) {
	if len(f) < 14 {
		e.C.DropMalformed[p]++
		return 0, nil, false
	}
	et := binary.BigEndian.Uint16(f[12:])
	vlan := e.sides[p].cfg.VLAN
	if et == etVLAN {
		if len(f) < 18 || binary.BigEndian.Uint16(f[14:])&0xfff != vlan || vlan == 0 {
			e.C.DropBadVLAN[p]++
			return 0, nil, false
		}
		return binary.BigEndian.Uint16(f[16:]), f[18:], true
	}
	if vlan != 0 {
		e.C.DropBadVLAN[p]++
		return 0, nil, false
	}
	return et, f[14:], true
}

// allowError applies the ICMP error rate limit of side p.
func (e *Engine) allowError(p Port) bool {
	s := &e.sides[p]
	if !s.cfg.GenerateICMPErrors {
		return false
	}
	now := e.now()
	if now.Sub(s.rlStart) >= time.Duration(s.cfg.ErrorRatePeriod)*time.Second {
		s.rlStart = now
		s.rlTokens = s.cfg.ErrorRatePackets
	}
	if s.rlTokens == 0 {
		e.C.ICMPRateLimited[p]++
		return false
	}
	s.rlTokens--
	return true
}

// String describes the engine for logs.
func (e *Engine) String() string {
	return fmt.Sprintf("lwaftr(%d softwires)", e.bt.Len())
}
