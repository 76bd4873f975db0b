package dslite

import (
	"net/netip"
	"time"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// The Ethernet layer under the DS-Lite engines: frames in, layer-3
// packets to the engine; the engine's packets out with a header for the
// next hop, whose MAC comes from ARP or neighbour discovery (the shared
// code of softwire/netpkt).

// FrameSender transmits one Ethernet frame (a copy is taken before it
// returns): pktio's Port.Send.
type FrameSender interface {
	Send(frame []byte) bool
}

// LinkConfig describes one Ethernet interface of an engine.
type LinkConfig struct {
	MAC [6]byte
	// IPv4 is our address on the link (answered in ARP, source of ARP
	// requests); IPv6 are ours for neighbour discovery (tunnel
	// endpoints, B4 address).
	IPv4 netip.Addr
	IPv6 []netip.Addr
	// Gateway4 and Gateway6 are the next hops off the link; when
	// invalid, destinations are on the link (the B4's LAN, say).
	Gateway4, Gateway6 netip.Addr
	// MaxNeighbors bounds the neighbour cache (4096 when zero).
	MaxNeighbors int
}

// LinkCounters count the link's own work.
type LinkCounters struct {
	InFrames, OutFrames uint64
	ARPReplies, NAs     uint64
	Solicitations       uint64
	HeldNoNeighbor      uint64 // next hop MAC unknown: held (a few) while solicited
	DropOther           uint64 // neither IPv4, IPv6 nor ARP, or malformed
	DropTxFull          uint64
}

// Link is one Ethernet interface. Input and the Send methods run on the
// data plane goroutine.
type Link struct {
	cfg       LinkConfig
	out       FrameSender
	linkLocal [16]byte
	ours6     [][16]byte
	nb        *netpkt.Neighbors
	buf       []byte
	ctl       []byte
	now       int64
	// pending holds a few packets waiting for their next hop's MAC, as a
	// host's neighbour table does, so that the first packet of a flow is
	// not lost to the solicitation.
	pending [pendingMax]pendingPkt

	// OnIPv4 and OnIPv6 take the packets of the link (may modify them).
	OnIPv4, OnIPv6 func(pkt []byte)
	C              LinkCounters
}

const (
	pendingMax   = 16
	pendingBytes = 9216
	pendingLife  = 3e9 // nanoseconds
)

type pendingPkt struct {
	nh   [16]byte
	et   uint16
	n    int
	born int64
	buf  []byte
}

// hold keeps p (of Ethernet type et) until nh resolves; the oldest
// waiting packet gives way when all slots are taken.
func (l *Link) hold(nh []byte, et uint16, p []byte) {
	if len(p) > pendingBytes {
		return
	}
	slot := 0
	for i := range l.pending {
		if l.pending[i].n == 0 || l.now-l.pending[i].born > pendingLife {
			slot = i
			break
		}
		if l.pending[i].born < l.pending[slot].born {
			slot = i
		}
	}
	q := &l.pending[slot]
	if q.buf == nil {
		q.buf = make([]byte, pendingBytes)
	}
	clear(q.nh[:])
	copy(q.nh[:], nh)
	q.et, q.n, q.born = et, copy(q.buf, p), l.now
}

// release sends the packets waiting for ip, now at mac.
func (l *Link) release(ip []byte, mac []byte) {
	var k [16]byte
	copy(k[:], ip)
	for i := range l.pending {
		q := &l.pending[i]
		if q.n == 0 || q.nh != k {
			continue
		}
		if l.now-q.born <= pendingLife {
			f := l.buf[:14+q.n]
			l.ether(f, mac, q.et)
			copy(f[14:], q.buf[:q.n])
			l.send(f)
		}
		q.n = 0
	}
}

// NewLink makes a link sending its frames to out.
func NewLink(cfg LinkConfig, out FrameSender) *Link {
	if cfg.MaxNeighbors == 0 {
		cfg.MaxNeighbors = 4096
	}
	l := &Link{cfg: cfg, out: out, nb: netpkt.NewNeighbors(cfg.MaxNeighbors),
		buf: make([]byte, 14+65536), ctl: make([]byte, 14+128)}
	// The EUI-64 link-local address (RFC 4291 appendix A): the source of
	// our solicitations and advertisements.
	ll := &l.linkLocal
	ll[0], ll[1] = 0xfe, 0x80
	m := cfg.MAC
	ll[8], ll[9], ll[10], ll[11], ll[12], ll[13], ll[14], ll[15] = m[0]^2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]
	l.ours6 = append(l.ours6, l.linkLocal)
	for _, a := range cfg.IPv6 {
		l.ours6 = append(l.ours6, a.As16())
	}
	return l
}

// Tick gives the link the time (solicitation pacing).
func (l *Link) Tick(now time.Time) { l.now = now.UnixNano() }

func (l *Link) ours(ip []byte) bool {
	for i := range l.ours6 {
		if string(l.ours6[i][:]) == string(ip) {
			return true
		}
	}
	return false
}

// Input takes one received frame.
func (l *Link) Input(f []byte) {
	l.C.InFrames++
	if len(f) < 14 {
		l.C.DropOther++
		return
	}
	et := be.Uint16(f[12:])
	p := f[14:]
	switch et {
	case netpkt.EtherTypeARP:
		l.arp(p)
	case netpkt.EtherTypeIPv4:
		if l.OnIPv4 != nil {
			l.OnIPv4(p)
		}
	case netpkt.EtherTypeIPv6:
		if len(p) >= 40+4 && p[6] == netpkt.ProtoICMPv6 && (p[40] == netpkt.ICMPv6NeighborSolicitation || p[40] == netpkt.ICMPv6NeighborAdvertisement) {
			l.nd(p, f[6:12])
			return
		}
		if l.OnIPv6 != nil {
			l.OnIPv6(p)
		}
	default:
		l.C.DropOther++
	}
}

func (l *Link) arp(p []byte) {
	a, ok := netpkt.ParseARP(p)
	if !ok {
		l.C.DropOther++
		return
	}
	if a.Op == netpkt.ARPRequest || a.Op == netpkt.ARPReply {
		if string(a.SPA) != "\x00\x00\x00\x00" {
			l.nb.Learn(a.SPA, a.SHA)
			l.release(a.SPA, a.SHA)
		}
	}
	if a.Op != netpkt.ARPRequest || !l.cfg.IPv4.IsValid() || string(a.TPA) != string(l.cfg.IPv4.AsSlice()) {
		return
	}
	f := l.ctl[:14+netpkt.ARPLen]
	l.ether(f, a.SHA, netpkt.EtherTypeARP)
	netpkt.WriteARP(f[14:], netpkt.ARPReply, l.cfg.MAC[:], l.cfg.IPv4.AsSlice(), a.SHA, a.SPA)
	l.C.ARPReplies++
	l.send(f)
}

func (l *Link) nd(p []byte, srcMAC []byte) {
	if _, ok := netpkt.CheckIPv6(p); !ok || netpkt.ICMPv6Checksum(p[8:24], p[24:40], p[40:40+int(be.Uint16(p[4:]))]) != 0 {
		l.C.DropOther++
		return
	}
	if p[40] == netpkt.ICMPv6NeighborAdvertisement {
		target, mac, ok := netpkt.NDTarget(p, 2)
		if !ok {
			l.C.DropOther++
			return
		}
		if mac == nil {
			mac = srcMAC
		}
		l.nb.Learn(target, mac)
		l.release(target, mac)
		return
	}
	target, mac, ok := netpkt.NDTarget(p, 1)
	if !ok {
		l.C.DropOther++
		return
	}
	src := p[8:24]
	unspecified := string(src) == string(make([]byte, 16))
	if mac != nil && !unspecified {
		l.nb.Learn(src, mac)
		l.release(src, mac)
	}
	if !l.ours(target) || unspecified {
		return
	}
	if mac == nil {
		mac = srcMAC
	}
	f := l.ctl[:14+netpkt.NDLen]
	l.ether(f, mac, netpkt.EtherTypeIPv6)
	netpkt.WriteNA(f[14:], target, src, target, l.cfg.MAC[:], true)
	l.C.NAs++
	l.send(f)
}

func (l *Link) ether(f []byte, dst []byte, et uint16) {
	copy(f[0:6], dst)
	copy(f[6:12], l.cfg.MAC[:])
	be.PutUint16(f[12:], et)
}

func (l *Link) send(f []byte) {
	l.C.OutFrames++
	if !l.out.Send(f) {
		l.C.DropTxFull++
	}
}

// SendIPv4 sends an IPv4 packet to its next hop.
func (l *Link) SendIPv4(p []byte) {
	nh := p[16:20]
	if l.cfg.Gateway4.IsValid() {
		nh = l.cfg.Gateway4.AsSlice()
	}
	mac, ok, solicit := l.nb.Lookup(nh, l.now)
	if !ok {
		l.C.HeldNoNeighbor++
		l.hold(nh, netpkt.EtherTypeIPv4, p)
		if solicit && l.cfg.IPv4.IsValid() {
			f := l.ctl[:14+netpkt.ARPLen]
			l.ether(f, netpkt.BroadcastMAC, netpkt.EtherTypeARP)
			netpkt.WriteARP(f[14:], netpkt.ARPRequest, l.cfg.MAC[:], l.cfg.IPv4.AsSlice(), nil, nh)
			l.C.Solicitations++
			l.send(f)
		}
		return
	}
	f := l.buf[:14+len(p)]
	l.ether(f, mac[:], netpkt.EtherTypeIPv4)
	copy(f[14:], p)
	l.send(f)
}

// SendIPv6 sends an IPv6 packet to its next hop.
func (l *Link) SendIPv6(p []byte) {
	nh := p[24:40]
	if l.cfg.Gateway6.IsValid() {
		g := l.cfg.Gateway6.As16()
		nh = g[:]
	}
	mac, ok, solicit := l.nb.Lookup(nh, l.now)
	if !ok {
		l.C.HeldNoNeighbor++
		l.hold(nh, netpkt.EtherTypeIPv6, p)
		if solicit {
			f := l.ctl[:14+netpkt.NDLen]
			var target [16]byte
			copy(target[:], nh)
			dmac := netpkt.WriteNS(f[14:], l.linkLocal[:], target[:], l.cfg.MAC[:])
			l.ether(f, dmac[:], netpkt.EtherTypeIPv6)
			l.C.Solicitations++
			l.send(f)
		}
		return
	}
	f := l.buf[:14+len(p)]
	l.ether(f, mac[:], netpkt.EtherTypeIPv6)
	copy(f[14:], p)
	l.send(f)
}

// Split is a Sender over two links: IPv4 to one, IPv6 to the other (the
// same link twice for one interface carrying both).
type Split struct{ V4, V6 *Link }

// SendIPv4 implements Sender.
func (s Split) SendIPv4(p []byte) { s.V4.SendIPv4(p) }

// SendIPv6 implements Sender.
func (s Split) SendIPv6(p []byte) { s.V6.SendIPv6(p) }
