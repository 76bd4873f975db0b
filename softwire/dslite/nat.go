package dslite

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// The NAT44 of the AFTR. A session is an endpoint-independent mapping
// (RFC 4787 REQ-1, RFC 5382 REQ-1): the internal endpoint (B4 address,
// inner source address, port or ICMP identifier, protocol) maps to one
// external address and port for every remote endpoint, and any remote
// may send to it (endpoint-independent filtering, RFC 4787 REQ-8 and RFC
// 5382 REQ-3 for application transparency). All sessions of a B4 share
// one external address (paired pooling, RFC 4787 REQ-2); its ports come
// from blocks of PortBlockSize ports held by that B4 alone, so one log
// line per block says who used a port.
//
// Sessions live in one slice, indexed by int32, with two maps for the
// two lookups; a session's timer is its slot on one wheel, and traffic
// only stamps its last-use time (the wheel re-files it when its slot
// comes up early), so the per-packet cost of a timer is one store.

// Protocol classes: each has its own port space per external address.
const (
	pTCP = iota
	pUDP
	pICMP
	nProto
)

func protoClass(proto uint8) (int, bool) {
	switch proto {
	case 6:
		return pTCP, true
	case 17:
		return pUDP, true
	case 1:
		return pICMP, true
	}
	return 0, false
}

// TCP state of a mapping, enough to choose between the established and
// transitory timeouts (RFC 5382 REQ-5, RFC 7857 §2.2).
const (
	tcpOutSYN = 1 << iota // SYN seen from the B4 side
	tcpInSYN              // SYN seen from the Internet side
	tcpFIN                // FIN seen
	tcpRST                // RST seen
)

type session struct {
	b4      int32
	next    int32 // wheel slot list, or free list
	inAddr  uint32
	extAddr uint32
	inPort  uint16
	extPort uint16
	proto   uint8
	tcp     uint8
	last    uint32 // seconds, engine time of the last packet
}

type outKey struct {
	b4    int32
	addr  uint32
	port  uint16
	proto uint8
}

type inKey struct {
	addr  uint32
	port  uint16
	proto uint8
}

// heldBlock is one port block a B4 holds, with which of its ports each
// protocol uses.
type heldBlock struct {
	start uint16
	used  [nProto]uint16
	bits  []uint64 // nProto bitmaps of words each
}

type b4State struct {
	addr     [16]byte
	ext      int32 // index into extAddrs, -1 before the first session
	sessions uint32
	blocks   []heldBlock
	last     uint32 // seconds, last packet from the B4
	seen     bool
}

// extAddr is one public address of the pools.
type extAddr struct {
	ip        uint32
	blockUsed []uint64 // bitmap of allocated blocks
	nUsed     int
	cursor    int // next block to try
	b4s       int
}

// portsHeld is how many public ports a B4 holds.
func (a *AFTR) portsHeld(b *b4State) int { return len(b.blocks) * int(a.cfg.PortBlockSize) }

// b4Index finds or creates the state of a B4.
func (a *AFTR) b4Index(addr *[16]byte) (int32, bool) {
	if i, ok := a.b4ByAddr[*addr]; ok {
		return i, true
	}
	if len(a.b4ByAddr) >= a.cfg.MaxB4s {
		a.C.DropB4Limit++
		return -1, false
	}
	var i int32
	if n := len(a.b4Free); n > 0 {
		i = a.b4Free[n-1]
		a.b4Free = a.b4Free[:n-1]
	} else {
		a.b4s = append(a.b4s, b4State{})
		i = int32(len(a.b4s) - 1)
	}
	b := &a.b4s[i]
	blocks := b.blocks[:0]
	*b = b4State{addr: *addr, ext: -1, blocks: blocks}
	a.b4ByAddr[*addr] = i
	if a.cfg.OnB4 != nil {
		a.cfg.OnB4(netip.AddrFrom16(*addr), true)
	}
	return i, true
}

// releaseB4 forgets a B4 with no sessions and no blocks.
func (a *AFTR) releaseB4(i int32) {
	b := &a.b4s[i]
	if b.ext >= 0 {
		a.ext[b.ext].b4s--
	}
	delete(a.b4ByAddr, b.addr)
	if a.cfg.OnB4 != nil {
		a.cfg.OnB4(netip.AddrFrom16(b.addr), false)
	}
	b.ext = -1
	a.b4Free = append(a.b4Free, i)
}

// chooseExternal picks the public address for a B4's first session: the
// next one, round robin, that has a free block.
func (a *AFTR) chooseExternal(b *b4State) bool {
	n := len(a.ext)
	for range n {
		x := &a.ext[a.extCursor]
		idx := int32(a.extCursor)
		a.extCursor = (a.extCursor + 1) % n
		if x.nUsed < a.nBlocks {
			if x.blockUsed == nil { // made on first use: large pools cost what they serve
				x.blockUsed = make([]uint64, (a.nBlocks+63)/64)
			}
			b.ext = idx
			x.b4s++
			return true
		}
	}
	return false
}

// allocPort finds a free external port of class pc for B4 b, taking a
// new block when its blocks are full.
func (a *AFTR) allocPort(bi int32, pc int) (uint16, bool) {
	b := &a.b4s[bi]
	if b.ext < 0 && !a.chooseExternal(b) {
		return 0, false
	}
	bs := int(a.cfg.PortBlockSize)
	for i := range b.blocks {
		hb := &b.blocks[i]
		if int(hb.used[pc]) < bs {
			if p, ok := a.takeInBlock(hb, pc); ok {
				return p, true
			}
		}
	}
	if a.portsHeld(b)+bs > int(a.cfg.MaxPortsPerB4) {
		return 0, false
	}
	hb, ok := a.allocBlock(bi)
	if !ok {
		return 0, false
	}
	return a.takeInBlock(hb, pc)
}

func (a *AFTR) takeInBlock(hb *heldBlock, pc int) (uint16, bool) {
	bs := int(a.cfg.PortBlockSize)
	w := a.blockWords
	m := hb.bits[pc*w : (pc+1)*w]
	for j, word := range m {
		if word == ^uint64(0) {
			continue
		}
		k := bits.TrailingZeros64(^word)
		off := j*64 + k
		if off >= bs {
			break
		}
		m[j] |= 1 << k
		hb.used[pc]++
		return hb.start + uint16(off), true
	}
	return 0, false
}

// allocBlock gives B4 bi a new block of its external address.
func (a *AFTR) allocBlock(bi int32) (*heldBlock, bool) {
	b := &a.b4s[bi]
	x := &a.ext[b.ext]
	if x.nUsed >= a.nBlocks {
		return nil, false
	}
	k := -1
	for range a.nBlocks {
		c := x.cursor
		x.cursor++
		if x.cursor == a.nBlocks {
			x.cursor = 0
		}
		if x.blockUsed[c/64]&(1<<(c%64)) == 0 {
			k = c
			break
		}
	}
	if k < 0 {
		return nil, false
	}
	x.blockUsed[k/64] |= 1 << (k % 64)
	x.nUsed++
	start := a.cfg.PortStart + uint16(k)*a.cfg.PortBlockSize
	var storage []uint64
	if n := len(a.bitsFree); n > 0 {
		storage = a.bitsFree[n-1]
		a.bitsFree = a.bitsFree[:n-1]
		clear(storage)
	} else {
		storage = make([]uint64, nProto*a.blockWords)
	}
	b.blocks = append(b.blocks, heldBlock{start: start, bits: storage})
	a.blockEvent(b, x.ip, start, true)
	return &b.blocks[len(b.blocks)-1], true
}

// freePort returns an external port of class pc, and its block when the
// block is then unused.
func (a *AFTR) freePort(bi int32, pc int, port uint16) {
	b := &a.b4s[bi]
	bs := a.cfg.PortBlockSize
	for i := range b.blocks {
		hb := &b.blocks[i]
		if port < hb.start || port-hb.start >= bs {
			continue
		}
		off := int(port - hb.start)
		m := hb.bits[pc*a.blockWords:]
		m[off/64] &^= 1 << (off % 64)
		hb.used[pc]--
		if hb.used == [nProto]uint16{} {
			x := &a.ext[b.ext]
			k := int(hb.start-a.cfg.PortStart) / int(bs)
			x.blockUsed[k/64] &^= 1 << (k % 64)
			x.nUsed--
			a.bitsFree = append(a.bitsFree, hb.bits)
			a.blockEvent(b, x.ip, hb.start, false)
			last := len(b.blocks) - 1
			b.blocks[i] = b.blocks[last]
			b.blocks[last] = heldBlock{}
			b.blocks = b.blocks[:last]
		}
		return
	}
}

func (a *AFTR) blockEvent(b *b4State, ext uint32, start uint16, alloc bool) {
	var e4 [4]byte
	binary.BigEndian.PutUint32(e4[:], ext)
	ev := PortBlockEvent{Time: a.wallNow, B4: netip.AddrFrom16(b.addr), External: netip.AddrFrom4(e4),
		PortStart: start, PortEnd: start + a.cfg.PortBlockSize - 1, Allocated: alloc}
	msg := "dslite: port block released"
	if alloc {
		a.C.PortBlocksAllocated++
		msg = "dslite: port block allocated"
	} else {
		a.C.PortBlocksReleased++
	}
	a.log.Info(msg, "b4", ev.B4, "external", ev.External, "port-start", ev.PortStart, "port-end", ev.PortEnd,
		"time", ev.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	if a.cfg.OnPortBlock != nil {
		a.cfg.OnPortBlock(ev)
	}
}

// newSession creates the mapping of an internal endpoint; -1 when a
// limit refuses it (counted).
func (a *AFTR) newSession(bi int32, k outKey, pc int) int32 {
	b := &a.b4s[bi]
	if b.sessions >= a.cfg.MaxSessionsPerB4 {
		a.C.DropSessionLimit++
		return -1
	}
	if a.freeSess < 0 && len(a.sess) >= a.cfg.MaxSessions {
		a.C.DropSessionLimit++
		return -1
	}
	port, ok := a.allocPort(bi, pc)
	if !ok {
		a.C.DropPortExhausted++
		if a.C.DropPortExhausted&(a.C.DropPortExhausted-1) == 0 { // 1, 2, 4, 8...: bounded log volume
			a.log.Warn("dslite: ports exhausted for B4", "b4", netip.AddrFrom16(b.addr),
				"ports-held", a.portsHeld(b), "max-ports-per-b4", a.cfg.MaxPortsPerB4, "drops", a.C.DropPortExhausted)
		}
		if b.sessions == 0 && len(b.blocks) == 0 {
			a.releaseB4(bi)
		}
		return -1
	}
	b = &a.b4s[bi]
	var si int32
	if a.freeSess >= 0 {
		si = a.freeSess
		a.freeSess = a.sess[si].next
	} else {
		a.sess = append(a.sess, session{})
		si = int32(len(a.sess) - 1)
	}
	ext := a.ext[b.ext].ip
	a.sess[si] = session{b4: bi, inAddr: k.addr, extAddr: ext, inPort: k.port, extPort: port, proto: k.proto, last: a.nowSec}
	a.out[k] = si
	a.in[inKey{addr: ext, port: port, proto: k.proto}] = si
	b.sessions++
	a.nSessions++
	a.C.SessionsCreated++
	a.schedule(si, a.nowSec+a.timeout(&a.sess[si]))
	return si
}

// removeSession ends a mapping (it is not on the wheel: the caller took it off).
func (a *AFTR) removeSession(si int32) {
	s := &a.sess[si]
	pc, _ := protoClass(s.proto)
	delete(a.out, outKey{b4: s.b4, addr: s.inAddr, port: s.inPort, proto: s.proto})
	delete(a.in, inKey{addr: s.extAddr, port: s.extPort, proto: s.proto})
	bi := s.b4
	a.freePort(bi, pc, s.extPort)
	b := &a.b4s[bi]
	b.sessions--
	a.nSessions--
	if b.sessions == 0 && len(b.blocks) == 0 {
		a.releaseB4(bi)
	}
	*s = session{b4: -1, next: a.freeSess}
	a.freeSess = si
}

// timeout is a session's idle timeout in seconds.
func (a *AFTR) timeout(s *session) uint32 {
	switch s.proto {
	case 6:
		if s.tcp&(tcpOutSYN|tcpInSYN) == tcpOutSYN|tcpInSYN && s.tcp&(tcpFIN|tcpRST) == 0 {
			return a.tmo[0]
		}
		return a.tmo[1]
	case 17:
		return a.tmo[2]
	}
	return a.tmo[3]
}

// wheelSlots is the timer wheel's size in seconds: a session due later
// than that is filed at the far end and re-filed when its slot comes.
const wheelSlots = 1 << 13

func (a *AFTR) schedule(si int32, due uint32) {
	// A TCP mapping may turn transitory (FIN, RST) long before its
	// established timeout: look at it again within the transitory one.
	if a.sess[si].proto == 6 {
		due = min(due, a.wheelTick+a.tmo[1])
	}
	if due <= a.wheelTick {
		due = a.wheelTick + 1
	}
	if due-a.wheelTick >= wheelSlots {
		due = a.wheelTick + wheelSlots - 1
	}
	slot := due & (wheelSlots - 1)
	a.sess[si].next = a.wheel[slot]
	a.wheel[slot] = si
}

// expire runs the wheel up to the engine's current second.
func (a *AFTR) expire() {
	for a.wheelTick < a.nowSec {
		if a.nowSec-a.wheelTick > wheelSlots {
			a.wheelTick = a.nowSec - wheelSlots
		}
		a.wheelTick++
		slot := a.wheelTick & (wheelSlots - 1)
		si := a.wheel[slot]
		a.wheel[slot] = -1
		for si >= 0 {
			s := &a.sess[si]
			next := s.next
			due := s.last + a.timeout(s)
			if due <= a.wheelTick {
				a.C.SessionsExpired++
				a.removeSession(si)
			} else {
				a.schedule(si, due)
			}
			si = next
		}
	}
}
