// Package node is the SFC data plane of one element (seed 004 section 5,
// NSH per RFC 8300): the ingress boundary (strip NSH arriving from outside
// the domain, classify, push NSH with SPI = SF Map Index and SI = 255,
// fragment with an NSH on every fragment), the SF node (invoke the local
// SF for its (SPI, SI) with loop detection, lower SI, forward to a
// locator of the next SF chosen per flow among the live ones), the SFC
// proxy in front of an NSH-unaware SF, and the egress boundary (remove
// NSH, hand the packet to ordinary routing).
//
// It knows nothing of YANG or sockets: Build derives a Table from a
// Config, Node holds the installed table, the liveness of locators and
// the counters, and a Worker per I/O goroutine processes packets in the
// caller's buffers and hands results to an Output. No allocation per
// packet.
package node

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebeat/wirebeat/sfc/classify"
	"github.com/wirebeat/wirebeat/sfc/nsh"
)

// Headroom is the room a caller leaves before a packet in its buffer: an
// NSH of the largest size fits in front of any packet.
const Headroom = 256

// Output carries what a Worker decides. Implementations copy pkt (the
// buffer is the caller's) and should queue rather than block.
type Output interface {
	// SendNSH sends pkt, which starts with the NSH, to the SF node at to,
	// with dscp in the outer header (seed 004 section 7).
	SendNSH(to netip.Addr, dscp uint8, pkt []byte)
	// Route hands a packet without NSH to ordinary routing; proto is its
	// NSH next protocol (nsh.ProtoIPv4, ProtoIPv6, ProtoEthernet).
	Route(proto uint8, pkt []byte)
	// ToLegacy hands a packet without NSH to the NSH-unaware local SF.
	ToLegacy(proto uint8, pkt []byte)
}

// Drop is why a packet was dropped.
type Drop uint8

// Drop causes (NSH decode errors are counted per nsh.Error apart).
const (
	DropMalformed     Drop = iota // NSH refused by the decoder
	DropUnknownSPI                // SPI not an authorized map here
	DropUnknownSI                 // SI not a position this table keeps
	DropSIExhausted               // SI 0, or below the end of the map
	DropTTL                       // NSH TTL ran out
	DropLoop                      // loop detection, action drop
	DropSFUnreachable             // no usable locator, on-failure drop
	DropUnclassified              // matched no rule, unmatched-action drop
	DropTooBig                    // over MaxNSHPacket and cannot fragment
	DropNotIP                     // classifier input that is not IPv4/IPv6
	DropProxyMiss                 // returned by the legacy SF, flow unknown
	numDrops
)

var dropNames = [...]string{"malformed", "unknown-spi", "unknown-si", "si-exhausted", "ttl-expired", "loop",
	"sf-unreachable", "unclassified", "too-big", "not-ip", "proxy-miss"}

func (d Drop) String() string { return dropNames[d] }

// Counters are the node's packet counters.
type Counters struct {
	Classified, Unclassified uint64
	Forwarded, Decapsulated  uint64
	Routed                   uint64 // unclassified packets passed to routing
	StrippedExternal         uint64 // NSH removed from packets entering the domain
	LoopDetected             uint64
	Invocations              uint64 // local SF invocations
	ToLegacy, FromLegacy     uint64
	Fragments                uint64 // fragments made (section 6)
	Drops                    [numDrops]uint64
	Malformed                [nsh.NumErrors]uint64
}

// Hooks are told about events; they run on the packet path (loops, rate
// limited to once per second per map) or under the node's lock
// (liveness) and must not block.
type Hooks struct {
	OnLoop     func(spi uint32, si uint8, from netip.Addr)
	OnLiveness func(addr netip.Addr, old, new Liveness)
}

// Node is one element's SFC data plane state.
type Node struct {
	table atomic.Pointer[Table]
	hooks Hooks

	mu       sync.Mutex
	live     map[netip.Addr]Liveness
	loopLast map[uint32]int64

	classified, unclassified, forwarded, decap, routed atomic.Uint64
	stripped, loops, invocations, toLegacy, fromLegacy atomic.Uint64
	fragments                                          atomic.Uint64
	drops                                              [numDrops]atomic.Uint64
	malformed                                          [nsh.NumErrors]atomic.Uint64

	proxy proxyTable
}

// New returns a node with an empty table.
func New(h Hooks) *Node {
	n := &Node{hooks: h, live: map[netip.Addr]Liveness{}, loopLast: map[uint32]int64{}}
	t, _ := Build(Config{})
	n.table.Store(t)
	return n
}

// Install makes t the table in use; packets in flight finish on the old
// one. Per-(SPI, SI) and per-rule counters carry over where the map or
// rule is unchanged in shape.
func (n *Node) Install(t *Table) {
	old := n.table.Load()
	for i, p := range t.paths {
		if op := old.paths[i]; op != nil && len(op.ctr.si) == len(p.ctr.si) {
			p.ctr = op.ctr
		}
	}
	byName := map[string]*ruleCounter{}
	for _, r := range old.ruleCtr {
		byName[r.name] = r
	}
	for i, r := range t.ruleCtr {
		if o := byName[r.name]; o != nil {
			t.ruleCtr[i] = o
		}
	}
	n.mu.Lock()
	t.setLiveness(n.downSet())
	n.table.Store(t)
	n.mu.Unlock()
}

// Table returns the installed table.
func (n *Node) Table() *Table { return n.table.Load() }

func (n *Node) downSet() map[netip.Addr]bool {
	d := map[netip.Addr]bool{}
	for a, l := range n.live {
		if l == Down {
			d[a] = true
		}
	}
	return d
}

// SetLiveness records a locator's verdict; Down takes it out of rotation
// in every SF it serves, and its flows move to the other usable locators.
func (n *Node) SetLiveness(addr netip.Addr, l Liveness) {
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.live[addr]
	if old == l {
		return
	}
	if l == Unknown {
		delete(n.live, addr)
	} else {
		n.live[addr] = l
	}
	if (old == Down) != (l == Down) {
		n.table.Load().setLiveness(n.downSet())
	}
	if n.hooks.OnLiveness != nil {
		n.hooks.OnLiveness(addr, old, l)
	}
}

// Liveness returns a locator's verdict.
func (n *Node) Liveness(addr netip.Addr) Liveness {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.live[addr]
}

// Counters returns a snapshot of the counters.
func (n *Node) Counters() Counters {
	c := Counters{
		Classified: n.classified.Load(), Unclassified: n.unclassified.Load(),
		Forwarded: n.forwarded.Load(), Decapsulated: n.decap.Load(), Routed: n.routed.Load(),
		StrippedExternal: n.stripped.Load(), LoopDetected: n.loops.Load(), Invocations: n.invocations.Load(),
		ToLegacy: n.toLegacy.Load(), FromLegacy: n.fromLegacy.Load(), Fragments: n.fragments.Load(),
	}
	for i := range c.Drops {
		c.Drops[i] = n.drops[i].Load()
	}
	for i := range c.Malformed {
		c.Malformed[i] = n.malformed[i].Load()
	}
	return c
}

func (n *Node) drop(d Drop) { n.drops[d].Add(1) }

// loopDetected counts and, at most once a second per map, tells the hook.
func (n *Node) loopDetected(spi uint32, si uint8, from netip.Addr) {
	n.loops.Add(1)
	if n.hooks.OnLoop == nil {
		return
	}
	now := time.Now().UnixNano()
	n.mu.Lock()
	last := n.loopLast[spi]
	fire := now-last >= int64(time.Second)
	if fire {
		n.loopLast[spi] = now
	}
	n.mu.Unlock()
	if fire {
		n.hooks.OnLoop(spi, si, from)
	}
}

// Worker processes packets for one I/O goroutine: it holds the scratch
// space fragmentation needs, so workers never share buffers.
type Worker struct {
	n       *Node
	out     Output
	key     classify.Key
	scratch []byte
}

// NewWorker returns a worker sending its results to out.
func (n *Node) NewWorker(out Output) *Worker {
	return &Worker{n: n, out: out, scratch: make([]byte, Headroom+nsh.MaxLen+65536)}
}

// flowHash hashes the flow of an inner packet (addresses, protocol,
// ports) so that one flow stays on one locator. It also leaves the
// packet's DSCP in w.key.
func (w *Worker) flowHash(proto uint8, inner []byte) uint64 {
	w.key = classify.Key{}
	switch proto {
	case nsh.ProtoIPv4:
		if classify.ParseIPv4(inner, &w.key) != nil {
			return 0
		}
	case nsh.ProtoIPv6:
		if classify.ParseIPv6(inner, &w.key) != nil {
			return 0
		}
	default:
		return 0
	}
	k := &w.key
	h := k.Src[0] ^ k.Src[1]*0x9e3779b97f4a7c15
	h = mix(h ^ k.Dst[0])
	h = mix(h ^ k.Dst[1])
	if k.Fragment {
		// Later fragments carry no ports: every fragment of a flow
		// hashes on addresses and protocol, so that all of them take
		// the same locator and find their NSH at the proxy.
		return mix(h ^ uint64(k.Proto)<<32)
	}
	return mix(h ^ uint64(k.Proto)<<32 ^ uint64(k.SrcPort)<<16 ^ uint64(k.DstPort))
}

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func innerProto(pkt []byte) uint8 {
	if len(pkt) > 0 {
		switch pkt[0] >> 4 {
		case 4:
			return nsh.ProtoIPv4
		case 6:
			return nsh.ProtoIPv6
		}
	}
	return 0
}

// FromOutside handles an IP packet entering the domain (ingress boundary
// and classifier): pkt is buf[off:], with at least Headroom octets before
// it.
func (w *Worker) FromOutside(buf []byte, off int) {
	n, t := w.n, w.n.table.Load()
	pkt := buf[off:]
	proto := innerProto(pkt)
	if proto == 0 || classify.Parse(pkt, &w.key) != nil {
		n.drop(DropNotIP)
		return
	}
	rank := t.cls.Lookup(&w.key)
	if rank < 0 {
		n.unclassified.Add(1)
		if t.cfg.UnmatchedDrop {
			n.drop(DropUnclassified)
			return
		}
		n.routed.Add(1)
		w.out.Route(proto, pkt)
		return
	}
	rc := t.ruleCtr[rank]
	rc.packets.Add(1)
	rc.bytes.Add(uint64(len(pkt)))
	n.classified.Add(1)
	p := t.paths[t.cls.Rule(rank).MapIndex]
	dscp := w.key.DSCP
	hash := w.flowHash(proto, pkt)
	hl := headerLen(&t.cfg, p)
	if max := t.cfg.MaxNSHPacket; max > 0 && hl+len(pkt) > max {
		w.fragment(t, p, proto, pkt, hl, dscp, hash)
		return
	}
	start := off - hl
	w.push(t, p, buf[start:off], proto)
	w.steer(t, p, buf[start:], hl, 0, dscp, hash, netip.Addr{}, false)
}

func headerLen(c *Config, p *path) int {
	if c.MDType == nsh.MDType2 {
		return nsh.MinLen + len(p.md2)
	}
	return nsh.MD1Len
}

// push writes the classifier's NSH for map p into hdr (exactly its
// length).
func (w *Worker) push(t *Table, p *path, hdr []byte, proto uint8) {
	h := nsh.Header{TTL: t.cfg.TTL, MDType: t.cfg.MDType, NextProtocol: proto, SPI: p.index, SI: 255}
	if t.cfg.MDType == nsh.MDType2 {
		h.Context = p.md2
	} else {
		h.Context = p.md1[:]
	}
	_, _ = h.Encode(hdr) // validated when the table was built
}

// fragment splits an IPv4 packet too big for the transport into
// fragments, each with its own NSH (seed 004 section 6), and steers each.
func (w *Worker) fragment(t *Table, p *path, proto uint8, pkt []byte, hl int, dscp uint8, hash uint64) {
	n := w.n
	if proto != nsh.ProtoIPv4 {
		n.drop(DropTooBig) // IPv6 is fragmented by its source only
		return
	}
	ihl := int(pkt[0]&0x0f) * 4
	ff := binary.BigEndian.Uint16(pkt[6:8])
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	if ff&0x4000 != 0 || total > len(pkt) || total <= ihl {
		n.drop(DropTooBig)
		return
	}
	chunk := (t.cfg.MaxNSHPacket - hl - ihl) &^ 7
	if chunk < 8 {
		n.drop(DropTooBig)
		return
	}
	baseOff := int(ff&0x1fff) * 8
	moreAfter := ff&0x2000 != 0
	data := pkt[ihl:total]
	for o := 0; o < len(data); o += chunk {
		end := min(o+chunk, len(data))
		f := w.scratch[Headroom : Headroom+hl+ihl+end-o]
		w.push(t, p, f[:hl], proto)
		ip := f[hl : hl+ihl]
		copy(ip, pkt[:ihl])
		copy(f[hl+ihl:], data[o:end])
		flags := uint16((baseOff+o)/8) & 0x1fff
		if end < len(data) || moreAfter {
			flags |= 0x2000
		}
		binary.BigEndian.PutUint16(ip[2:4], uint16(ihl+end-o))
		binary.BigEndian.PutUint16(ip[6:8], flags)
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:12], ipChecksum(ip))
		n.fragments.Add(1)
		if o == 0 {
			hash = w.flowHash(proto, f[hl:]) // the fragments' own hash
		}
		w.steer(t, p, f, hl, 0, dscp, hash, netip.Addr{}, false)
	}
}

func ipChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// FromOutsideNSH handles an NSH packet arriving from outside the domain:
// an SF Map Index from outside is never trusted (seed 004 section 11), so
// the NSH is removed and the inner packet classified afresh.
func (w *Worker) FromOutsideNSH(buf []byte, off int) {
	var h nsh.Header
	for range 4 { // nested NSH, bounded
		hl, err := h.Decode(buf[off:])
		if err != nil {
			w.n.malformed[err.(nsh.Error)].Add(1)
			w.n.drop(DropMalformed)
			return
		}
		off += hl
		if h.NextProtocol != nsh.ProtoNSH {
			break
		}
	}
	w.n.stripped.Add(1)
	if h.NextProtocol != nsh.ProtoIPv4 && h.NextProtocol != nsh.ProtoIPv6 {
		w.n.drop(DropNotIP)
		return
	}
	w.FromOutside(buf, off)
}

// FromNetwork handles an NSH packet received from the network: on a
// boundary node, one from an address that is neither a boundary node nor
// a locator of the domain comes from outside and gets FromOutsideNSH;
// everything else gets FromDomain.
func (w *Worker) FromNetwork(buf []byte, off int, from netip.Addr) {
	t := w.n.table.Load()
	if t.cfg.Boundary && !t.members[from] {
		w.FromOutsideNSH(buf, off)
		return
	}
	w.FromDomain(buf, off, from)
}

// FromDomain handles an NSH packet from another node of the domain (SF
// node, SFF, egress boundary): pkt is buf[off:] starting with the NSH,
// from the outer source address.
func (w *Worker) FromDomain(buf []byte, off int, from netip.Addr) {
	n, t := w.n, w.n.table.Load()
	pkt := buf[off:]
	var h nsh.Header
	hl, err := h.Decode(pkt)
	if err != nil {
		n.malformed[err.(nsh.Error)].Add(1)
		n.drop(DropMalformed)
		return
	}
	p := t.paths[h.SPI]
	if p == nil {
		n.drop(DropUnknownSPI)
		return
	}
	if h.SI == 0 {
		n.drop(DropSIExhausted)
		return
	}
	pos := 255 - int(h.SI)
	if pos > len(p.hops) {
		n.drop(DropSIExhausted)
		return
	}
	if !nsh.DecrementTTL(pkt) {
		n.drop(DropTTL)
		return
	}
	hash := w.flowHash(h.NextProtocol, pkt[hl:])
	w.steer(t, p, pkt, hl, pos, w.key.DSCP, hash, from, true)
}

// steer moves an NSH packet (pkt, header length hl) along map p from
// position pos: invoking the local SF where the map says so, then
// forwarding to the next SF's locator, or removing the NSH at the end.
// received is set for packets that came from another node (loop detection
// applies to those at their first position).
func (w *Worker) steer(t *Table, p *path, pkt []byte, hl, pos int, dscp uint8, hash uint64, from netip.Addr, received bool) {
	n := w.n
	inner := len(pkt) - hl
	for {
		if pos < len(p.hops) && !p.kept[pos] || pos == len(p.hops) && !p.keepEnd {
			n.drop(DropUnknownSI)
			return
		}
		c := &p.ctr.si[pos]
		c.packets.Add(1)
		c.bytes.Add(uint64(inner))
		if pos == len(p.hops) {
			if !t.cfg.Boundary && p.egress.IsValid() {
				nsh.SetSI(pkt, uint8(255-pos))
				n.forwarded.Add(1)
				w.out.SendNSH(p.egress, dscp, pkt)
				return
			}
			n.decap.Add(1)
			w.out.Route(pkt[3], pkt[hl:])
			return
		}
		hp := &p.hops[pos]
		if hp.local {
			if received && t.cfg.LoopDetection && !t.boundary[from] {
				if prev, ok := p.prev[from]; !ok || prev >= pos {
					n.loopDetected(p.index, uint8(255-pos), from)
					if t.cfg.LoopAction == LoopDrop {
						n.drop(DropLoop)
						return
					}
					pos++ // forward without invoking the local SF
					received = false
					continue
				}
			}
			n.invocations.Add(1)
			if t.cfg.LocalKind == Proxy {
				nsh.SetSI(pkt, uint8(255-pos))
				n.toLegacy.Add(1)
				n.proxy.remember(hash, pkt[:hl])
				w.out.ToLegacy(pkt[3], pkt[hl:])
				return
			}
			pos++
			received = false
			continue
		}
		sel := hp.sf.sel.Load()
		li := sel.slots[hash&0xff]
		if li < 0 {
			if p.onFailure == FailSkip {
				pos++
				continue
			}
			n.drop(DropSFUnreachable)
			return
		}
		nsh.SetSI(pkt, uint8(255-pos))
		n.forwarded.Add(1)
		w.out.SendNSH(hp.sf.locs[li].Addr, dscp, pkt)
		return
	}
}

// FromLegacy takes back a packet the NSH-unaware SF returned (pkt is
// buf[off:], Headroom before it), restores the NSH it left with, and goes
// on along the map after the local SF.
func (w *Worker) FromLegacy(buf []byte, off int) {
	n, t := w.n, w.n.table.Load()
	n.fromLegacy.Add(1)
	pkt := buf[off:]
	proto := innerProto(pkt)
	hash := w.flowHash(proto, pkt)
	dscp := w.key.DSCP
	var hdr [nsh.MaxLen]byte
	hl := n.proxy.recall(hash, hdr[:])
	if hl == 0 {
		// The function changed the flow (a NAT) or the memory was
		// overwritten: with the local SF on a single map, that map it
		// is; otherwise the packet cannot be placed.
		if len(t.localPaths) != 1 {
			n.drop(DropProxyMiss)
			return
		}
		lp := t.localPaths[0]
		p := t.paths[lp[0]]
		hl = headerLen(&t.cfg, p)
		w.push(t, p, hdr[:hl], proto)
		nsh.SetSI(hdr[:], uint8(255-lp[1]))
	}
	var h nsh.Header
	if _, err := h.Decode(hdr[:hl]); err != nil {
		n.drop(DropProxyMiss)
		return
	}
	p := t.paths[h.SPI]
	pos := 255 - int(h.SI)
	if p == nil || pos >= len(p.hops) || !p.hops[pos].local || off < hl {
		n.drop(DropProxyMiss)
		return
	}
	start := off - hl
	copy(buf[start:off], hdr[:hl])
	buf[start+3] = proto // the function may have changed nothing else
	w.steer(t, p, buf[start:], hl, pos+1, dscp, hash, netip.Addr{}, false)
}

// proxyTable remembers the NSH of packets handed to the legacy SF, by
// flow hash, in fixed memory: a later flow in the same slot overwrites.
type proxyTable struct {
	mu    sync.Mutex
	slots [proxySlots]proxySlot
}

const proxySlots = 4096

type proxySlot struct {
	hash uint64
	n    uint8 // header length in words; 0 empty
	hdr  [nsh.MaxLen]byte
}

func (pt *proxyTable) remember(hash uint64, hdr []byte) {
	pt.mu.Lock()
	s := &pt.slots[hash%proxySlots]
	s.hash, s.n = hash, uint8(len(hdr)/4)
	copy(s.hdr[:], hdr)
	pt.mu.Unlock()
}

func (pt *proxyTable) recall(hash uint64, dst []byte) int {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	s := &pt.slots[hash%proxySlots]
	if s.n == 0 || s.hash != hash {
		return 0
	}
	return copy(dst, s.hdr[:int(s.n)*4])
}
