package dslite

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

var be = binary.BigEndian

// Sender takes the packets an engine sends: IPv4 packets towards the
// Internet (or the B4's LAN) and IPv6 packets into the tunnels. pkt is
// only valid during the call; the link layer copies it into its batch.
type Sender interface {
	SendIPv4(pkt []byte)
	SendIPv6(pkt []byte)
}

// AFTRCounters count what the AFTR did since it started.
type AFTRCounters struct {
	RcvdIPv6Packets, RcvdIPv6Bytes uint64 // from B4s
	RcvdIPv4Packets, RcvdIPv4Bytes uint64 // from the Internet
	SentIPv6Packets, SentIPv6Bytes uint64
	SentIPv4Packets, SentIPv4Bytes uint64

	DropBadSource       uint64 // outer source outside the B4 prefixes
	DropNotForUs        uint64 // outer destination not a tunnel endpoint, or IPv4 not to a pool address
	DropMalformed6      uint64 // IPv6 or inner IPv4 header broken or truncated
	DropMalformed4      uint64
	DropUnknownProto6   uint64 // neither IPv4-in-IPv6 nor ICMPv6 we handle
	DropUnknownProto4   uint64 // inner protocol the NAT does not translate
	DropTTLZero         uint64
	DropTooBigDF        uint64 // over the external MTU with DF (ICMP sent back)
	DropNoSession4      uint64 // from the Internet, no mapping
	DropSessionLimit    uint64
	DropPortExhausted   uint64
	DropB4Limit         uint64
	DropFragments6      uint64
	DropFragments4      uint64
	DropBadChecksum     uint64 // ICMP messages whose checksum fails
	ReassembledIPv6     uint64
	ReassembledIPv4     uint64
	FragmentedIPv6Out   uint64 // packets sent to B4s as IPv6 fragments
	FragmentedIPv4Out   uint64 // packets sent to the Internet as IPv4 fragments
	HairpinPackets      uint64
	HairpinBytes        uint64
	ICMPErrorsSent      uint64
	ICMPRateLimited     uint64
	MSSClamped          uint64
	SessionsCreated     uint64
	SessionsExpired     uint64
	PortBlocksAllocated uint64
	PortBlocksReleased  uint64
	BFDIn, BFDOut       uint64
	EchoReplies         uint64
}

// AFTR is one DS-Lite AFTR. It is not safe for concurrent use: one
// goroutine (the data plane's) calls FromB4, FromInternet, Advance and
// SendBFD, and the adapter reads its state between batches through the
// same goroutine or under its own lock.
type AFTR struct {
	cfg AFTRConfig
	snd Sender
	log *slog.Logger

	endpoint [16]byte
	unicast  [16]byte // source of BFD and ICMPv6 we originate
	hasUni   bool
	inner    uint32
	b4Nets   []netip.Prefix
	tmo      [4]uint32 // seconds: TCP established, transitory, UDP, ICMP
	mssClamp uint16

	pools      []poolRange
	ext        []extAddr
	extCursor  int
	nBlocks    int
	blockWords int
	bitsFree   [][]uint64

	b4ByAddr map[[16]byte]int32
	b4s      []b4State
	b4Free   []int32

	sess      []session
	freeSess  int32
	nSessions int
	out       map[outKey]int32
	in        map[inKey]int32
	wheel     []int32
	wheelTick uint32

	epoch   time.Time
	wallNow time.Time
	nowSec  uint32
	nowNano int64

	r6, r4in, r4ext *netpkt.Reassembler
	reasm           []byte // reassembled packets
	obuf            []byte // encapsulation and ICMP errors
	fbuf            []byte // one fragment at a time
	icmpTokens      int
	icmpSec         uint32
	fragID4         uint16
	fragID6         uint32

	// C counts what happened.
	C AFTRCounters
}

type poolRange struct {
	base, size uint32
	first      int // index of base in ext
}

// NewAFTR builds an AFTR sending through snd, with its clock at now.
func NewAFTR(cfg AFTRConfig, snd Sender, now time.Time) (*AFTR, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &AFTR{cfg: cfg, snd: snd, log: cfg.Log, endpoint: cfg.TunnelEndpoint.As16(),
		b4Nets: cfg.B4Prefixes, freeSess: -1,
		b4ByAddr: map[[16]byte]int32{}, out: map[outKey]int32{}, in: map[inKey]int32{},
		wheel: make([]int32, wheelSlots), epoch: now, wallNow: now,
		reasm: make([]byte, netpkt.MaxDatagram+64), obuf: make([]byte, netpkt.MaxDatagram+128),
		fbuf: make([]byte, 65536), fragID4: 1, fragID6: 1}
	a.unicast = a.endpoint
	if cfg.UnicastAddress.IsValid() {
		a.unicast, a.hasUni = cfg.UnicastAddress.As16(), true
	}
	a.inner = be.Uint32(cfg.InnerAddress.AsSlice())
	for i := range a.wheel {
		a.wheel[i] = -1
	}
	t := cfg.Timeouts
	a.tmo = [4]uint32{secs(t.TCPEstablished), secs(t.TCPTransitory), secs(t.UDP), secs(t.ICMP)}
	// An MSS that fits a full-size segment in one tunnel packet: IPv6
	// header, IPv4 header, TCP header (RFC 6333 §5.3, RFC 4459 §3.2).
	a.mssClamp = uint16(cfg.TunnelMTU - 40 - 20 - 20)
	a.nBlocks = (int(cfg.PortEnd-cfg.PortStart) + 1) / int(cfg.PortBlockSize)
	a.blockWords = (int(cfg.PortBlockSize) + 63) / 64
	for _, p := range cfg.Pools {
		p = p.Masked()
		size := uint32(1) << (32 - p.Bits())
		a.pools = append(a.pools, poolRange{base: be.Uint32(p.Addr().AsSlice()), size: size, first: len(a.ext)})
		for k := range size {
			a.ext = append(a.ext, extAddr{ip: a.pools[len(a.pools)-1].base + k})
		}
	}
	a.r6 = netpkt.NewReassembler(cfg.MaxReassemblyPackets, cfg.MaxFragmentsPerPacket)
	a.r4in = netpkt.NewReassembler(cfg.MaxReassemblyPackets, cfg.MaxFragmentsPerPacket)
	a.r4ext = netpkt.NewReassembler(cfg.MaxReassemblyPackets, cfg.MaxFragmentsPerPacket)
	a.icmpTokens = cfg.ICMPErrorsPerSecond
	return a, nil
}

func secs(d time.Duration) uint32 { return uint32(max(1, min(d/time.Second, 1<<30))) }

// Config returns the configuration with defaults filled in.
func (a *AFTR) Config() AFTRConfig { return a.cfg }

// Advance moves the engine's clock to now and expires idle sessions.
// The data plane calls it once per batch, so packets read the time from
// a field instead of the system clock.
func (a *AFTR) Advance(now time.Time) {
	a.wallNow = now
	d := now.Sub(a.epoch)
	if d < 0 {
		d = 0
	}
	a.nowNano = int64(d)
	a.nowSec = uint32(d / time.Second)
	if a.icmpSec != a.nowSec {
		a.icmpSec, a.icmpTokens = a.nowSec, a.cfg.ICMPErrorsPerSecond
	}
	a.expire()
}

func (a *AFTR) allowB4(src []byte) bool {
	if len(a.b4Nets) == 0 {
		return true
	}
	ip := netip.AddrFrom16([16]byte(src))
	for _, p := range a.b4Nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// isPool tells whether ip is one of the pool addresses.
func (a *AFTR) isPool(ip uint32) bool {
	for _, p := range a.pools {
		if ip-p.base < p.size {
			return true
		}
	}
	return false
}

func (a *AFTR) sendIPv4(p []byte) {
	a.C.SentIPv4Packets++
	a.C.SentIPv4Bytes += uint64(len(p))
	a.snd.SendIPv4(p)
}

func (a *AFTR) sendIPv6(p []byte) {
	a.C.SentIPv6Packets++
	a.C.SentIPv6Bytes += uint64(len(p))
	a.snd.SendIPv6(p)
}

// FromB4 handles an IPv6 packet from the tunnel side. It may modify pkt.
func (a *AFTR) FromB4(pkt []byte) {
	a.C.RcvdIPv6Packets++
	a.C.RcvdIPv6Bytes += uint64(len(pkt))
	p, ok := netpkt.CheckIPv6(pkt)
	if !ok {
		a.C.DropMalformed6++
		return
	}
	dst := p[24:40]
	if string(dst) != string(a.endpoint[:]) && (!a.hasUni || string(dst) != string(a.unicast[:])) {
		a.C.DropNotForUs++
		return
	}
	if !a.allowB4(p[8:24]) {
		a.C.DropBadSource++
		a.refuseSource(p)
		return
	}
	if p[6] == netpkt.ProtoFragment {
		whole, st, n := a.r6.Add6(a.nowNano, p, a.reasm)
		if p, ok = reassembled(whole, st, n, &a.C.ReassembledIPv6, &a.C.DropFragments6, &a.C.DropMalformed6); !ok {
			return
		}
	}
	switch p[6] {
	case netpkt.ProtoIPIP:
	case netpkt.ProtoICMPv6:
		a.icmpv6(p)
		return
	default:
		a.C.DropUnknownProto6++
		return
	}
	b4 := (*[16]byte)(p[8:24])
	inner, ok := netpkt.CheckIPv4(p[40:])
	if !ok {
		a.C.DropMalformed6++
		return
	}
	if netpkt.IsFragment4(inner) {
		whole, st, n := a.r4in.Add4Tunnel(a.nowNano, b4[:], inner, a.reasm)
		if whole, ok := reassembled(whole, st, n, &a.C.ReassembledIPv4, &a.C.DropFragments4, &a.C.DropMalformed6); ok {
			// whole is in a.reasm, which p may also be in: keep the B4.
			var addr [16]byte = *b4
			a.fromTunnel(&addr, whole)
		}
		return
	}
	a.fromTunnel(b4, inner)
}

// fromTunnel handles a whole inner IPv4 packet from B4 b4.
func (a *AFTR) fromTunnel(b4 *[16]byte, p []byte) {
	ihl := int(p[0]&0xf) * 4
	l4 := p[ihl:]
	proto := p[9]
	if be.Uint32(p[16:]) == a.inner {
		a.toInner(b4, p, l4)
		return
	}
	bi, ok := a.b4Index(b4)
	if !ok {
		return
	}
	a.b4s[bi].last, a.b4s[bi].seen = a.nowSec, true
	if p[8] <= 1 {
		a.C.DropTTLZero++
		a.errorToB4(b4, 11, 0, p, 0)
		a.gcB4(bi)
		return
	}
	var k outKey
	k.b4, k.addr, k.proto = bi, be.Uint32(p[12:]), proto
	pc, ok := protoClass(proto)
	if !ok {
		a.C.DropUnknownProto4++
		a.gcB4(bi)
		return
	}
	icmpErr := false
	switch pc {
	case pTCP:
		if len(l4) < 20 {
			a.C.DropMalformed6++
			a.gcB4(bi)
			return
		}
		k.port = be.Uint16(l4)
	case pUDP:
		if len(l4) < 8 {
			a.C.DropMalformed6++
			a.gcB4(bi)
			return
		}
		k.port = be.Uint16(l4)
	case pICMP:
		if len(l4) < 8 || netpkt.Checksum(l4) != 0 {
			a.C.DropBadChecksum++
			a.gcB4(bi)
			return
		}
		switch l4[0] {
		case 8, 13, 15, 17: // echo, timestamp, information, address mask requests
			k.port = be.Uint16(l4[4:])
		case 3, 11, 12: // an error about a packet sent to the host: RFC 5508 REQ-3
			icmpErr = true
		default:
			a.C.DropUnknownProto4++
			a.gcB4(bi)
			return
		}
	}
	if icmpErr {
		a.icmpErrorFromB4(bi, p, l4)
		return
	}
	si, found := a.out[k]
	if !found {
		if si = a.newSession(bi, k, pc); si < 0 {
			return
		}
	}
	s := &a.sess[si]
	s.last = a.nowSec
	if pc == pTCP {
		a.tcpTrack(s, l4, true)
	}
	// Source address and port (or identifier) to the mapping's.
	rewriteAddr(p, l4, 12, proto, s.extAddr)
	rewritePort(l4, proto, true, s.extPort)
	decTTL(p)
	dst := be.Uint32(p[16:])
	if a.cfg.Hairpinning && a.isPool(dst) {
		a.hairpin(p, l4, proto)
		return
	}
	a.toInternet(p, b4)
}

// gcB4 forgets a B4 that a refused packet created.
func (a *AFTR) gcB4(bi int32) {
	b := &a.b4s[bi]
	if b.sessions == 0 && len(b.blocks) == 0 {
		a.releaseB4(bi)
	}
}

// hairpin turns a translated packet to one of our own mappings around
// (RFC 4787 REQ-9, RFC 5382 REQ-8): the receiver sees the sender's
// external address and port.
func (a *AFTR) hairpin(p, l4 []byte, proto uint8) {
	var port uint16
	switch proto {
	case 6, 17:
		port = be.Uint16(l4[2:])
	default:
		port = be.Uint16(l4[4:]) // echo: the identifier is the mapping's
	}
	si, ok := a.in[inKey{addr: be.Uint32(p[16:]), port: port, proto: proto}]
	if !ok || proto == 1 {
		// Echo requests are not mapped back in: the identifier belongs to
		// the query's sender (RFC 5508 REQ-5 covers queries from inside).
		a.C.DropNoSession4++
		return
	}
	s := &a.sess[si]
	s.last = a.nowSec
	rewriteAddr(p, l4, 16, proto, s.inAddr)
	rewritePort(l4, proto, false, s.inPort)
	a.C.HairpinPackets++
	a.C.HairpinBytes += uint64(len(p))
	a.encap(&a.b4s[s.b4].addr, p)
}

// toInternet sends a translated packet out, fragmenting it to the
// external MTU unless DF asks for an error instead.
func (a *AFTR) toInternet(p []byte, b4 *[16]byte) {
	mtu := a.cfg.ExternalMTU
	if len(p) <= mtu {
		a.sendIPv4(p)
		return
	}
	if netpkt.DontFragment4(p) {
		a.C.DropTooBigDF++
		// The error quotes the packet as the host sent it would be nicer,
		// but the translated one tells the host the same MTU; the quote's
		// addresses are put back below so the host can match it.
		a.errorToB4Translated(b4, p, uint16(mtu))
		return
	}
	a.fragID4++
	a.C.FragmentedIPv4Out++
	ihl := int(p[0]&0xf) * 4
	for off := 0; off < len(p)-ihl; {
		var n int
		n, off = netpkt.Fragment4(a.fbuf, p, off, mtu, a.fragID4)
		a.sendIPv4(a.fbuf[:n])
	}
}

// FromInternet handles an IPv4 packet from the Internet side. It may
// modify pkt.
func (a *AFTR) FromInternet(pkt []byte) {
	a.C.RcvdIPv4Packets++
	a.C.RcvdIPv4Bytes += uint64(len(pkt))
	p, ok := netpkt.CheckIPv4(pkt)
	if !ok {
		a.C.DropMalformed4++
		return
	}
	if !a.isPool(be.Uint32(p[16:])) {
		a.C.DropNotForUs++
		return
	}
	if netpkt.IsFragment4(p) {
		whole, st, n := a.r4ext.Add4(a.nowNano, p, a.reasm)
		if p, ok = reassembled(whole, st, n, &a.C.ReassembledIPv4, &a.C.DropFragments4, &a.C.DropMalformed4); !ok {
			return
		}
	}
	ihl := int(p[0]&0xf) * 4
	l4 := p[ihl:]
	proto := p[9]
	var port uint16
	switch proto {
	case 6:
		if len(l4) < 20 {
			a.C.DropMalformed4++
			return
		}
		port = be.Uint16(l4[2:])
	case 17:
		if len(l4) < 8 {
			a.C.DropMalformed4++
			return
		}
		port = be.Uint16(l4[2:])
	case 1:
		if len(l4) < 8 || netpkt.Checksum(l4) != 0 {
			a.C.DropBadChecksum++
			return
		}
		switch l4[0] {
		case 0, 14, 16, 18: // replies to queries from inside
			port = be.Uint16(l4[4:])
		case 3, 11, 12:
			a.icmpErrorFromInternet(p, l4)
			return
		default:
			a.C.DropUnknownProto4++
			return
		}
	default:
		a.C.DropUnknownProto4++
		return
	}
	si, ok := a.in[inKey{addr: be.Uint32(p[16:]), port: port, proto: proto}]
	if !ok {
		a.C.DropNoSession4++
		return
	}
	s := &a.sess[si]
	if p[8] <= 1 {
		a.C.DropTTLZero++
		a.errorToInternet(11, 0, p)
		return
	}
	s.last = a.nowSec
	if proto == 6 {
		a.tcpTrack(s, l4, false)
	}
	rewriteAddr(p, l4, 16, proto, s.inAddr)
	rewritePort(l4, proto, false, s.inPort)
	decTTL(p)
	a.encap(&a.b4s[s.b4].addr, p)
}

// encap sends IPv4 packet p into the softwire of B4 b4, fragmenting the
// IPv6 packet when it exceeds the tunnel MTU (RFC 6333 §5.3: the AFTR
// fragments after encapsulation rather than dropping or asking the IPv4
// sender for a smaller MTU).
func (a *AFTR) encap(b4 *[16]byte, p []byte) {
	a.encapFrom(a.endpoint[:], b4, p)
}

func (a *AFTR) encapFrom(src []byte, b4 *[16]byte, p []byte) {
	if encap4in6(a.sendIPv6, a.obuf, a.fbuf, &a.fragID6, a.cfg.TunnelMTU, p[1], src, b4[:], p) {
		a.C.FragmentedIPv6Out++
	}
}

// allowError takes a token of the ICMP error rate limit.
func (a *AFTR) allowError() bool {
	if a.icmpTokens <= 0 {
		a.C.ICMPRateLimited++
		return false
	}
	a.icmpTokens--
	return true
}

// errorToB4 sends an ICMPv4 error about p (an inner packet from the B4,
// untranslated) to its sender through the tunnel, from the AFTR's inner
// address, as the router hop it is. No error answers an ICMP error.
func (a *AFTR) errorToB4(b4 *[16]byte, typ, code byte, p []byte, mtu uint16) {
	if isICMPError(p) || !a.allowError() {
		return
	}
	var src [4]byte
	be.PutUint32(src[:], a.inner)
	e := netpkt.BuildICMPv4Error(a.obuf[40:], typ, code, src[:], p, mtu)
	a.C.ICMPErrorsSent++
	h := a.obuf[:40+len(e)]
	netpkt.WriteIPv6Header(h, 0, len(e), netpkt.ProtoIPIP, a.endpoint[:], b4[:])
	a.sendIPv6(h)
}

// errorToB4Translated reports fragmentation needed for p, already
// translated, to its sender: the quote gets the internal source back.
func (a *AFTR) errorToB4Translated(b4 *[16]byte, p []byte, mtu uint16) {
	si, ok := a.lookupTranslatedSource(p)
	if !ok {
		return
	}
	s := &a.sess[si]
	ihl := int(p[0]&0xf) * 4
	rewriteAddr(p, p[ihl:], 12, p[9], s.inAddr)
	rewritePort(p[ihl:], p[9], true, s.inPort)
	a.errorToB4(b4, 3, 4, p, mtu)
}

func (a *AFTR) lookupTranslatedSource(p []byte) (int32, bool) {
	ihl := int(p[0]&0xf) * 4
	l4 := p[ihl:]
	port := be.Uint16(l4)
	if p[9] == 1 {
		port = be.Uint16(l4[4:])
	}
	si, ok := a.in[inKey{addr: be.Uint32(p[12:]), port: port, proto: p[9]}]
	return si, ok
}

// errorToInternet sends an ICMPv4 error about p (from the Internet, not
// yet translated) back to its sender, from the pool address p was for.
func (a *AFTR) errorToInternet(typ, code byte, p []byte) {
	if isICMPError(p) || !a.allowError() {
		return
	}
	e := netpkt.BuildICMPv4Error(a.obuf, typ, code, p[16:20], p, 0)
	a.C.ICMPErrorsSent++
	a.sendIPv4(e)
}

func isICMPError(p []byte) bool {
	ihl := int(p[0]&0xf) * 4
	if p[9] != 1 || len(p) < ihl+1 {
		return false
	}
	switch p[ihl] {
	case 3, 4, 5, 11, 12:
		return true
	}
	return false
}

// String describes the engine for logs.
func (a *AFTR) String() string {
	return fmt.Sprintf("dslite-aftr(%v, %d B4s, %d sessions)", a.cfg.TunnelEndpoint, len(a.b4ByAddr), a.nSessions)
}
