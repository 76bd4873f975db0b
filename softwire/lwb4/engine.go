// Package lwb4 is the lightweight 4over6 B4 (RFC 7596 §5): IPv4 from the
// home network is translated (NAPT44) to the B4's public IPv4 address and
// into the ports of its PSID, encapsulated in IPv6 towards the lwAFTR
// (the anycast address of an lwAFTR set), and the return traffic is
// decapsulated and translated back. An ICMPv6 Destination Unreachable code
// 5 from the lwAFTR about one of its packets (the ICMPv6 trigger of anycast
// failover, seed 001) makes it provision again.
//
// The engine works on layer-3 packets; the packet I/O underneath (pktio)
// carries them. It is single-threaded and allocation-free per packet:
// output is built in one preallocated buffer handed to the Sender.
package lwb4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

var be = binary.BigEndian

// Binding is what provisioning gives the lwB4: its public IPv4 address,
// port set and the lwAFTR to tunnel to.
type Binding struct {
	IPv4    uint32
	PSID    uint16
	PortSet bindingtable.PortSet
	BR      [16]byte
}

// Config of the lwB4.
type Config struct {
	// B4 is the IPv6 tunnel source address.
	B4 [16]byte
	// MTU of the tunnel (IPv6 packets, header included); default 1500.
	MTU int
	// Timeouts of NAPT mappings; defaults TCP 2 h 4 min, UDP 5 min, ICMP 1 min.
	TCPTimeout, UDPTimeout, ICMPTimeout time.Duration
	// ReprovisionInterval: at most one reprovisioning per interval
	// however many ICMPv6 triggers arrive (default 1 s).
	ReprovisionInterval time.Duration
}

// Sender receives the engine's packets; p is valid only during the call.
type Sender interface {
	SendLAN(p []byte) // IPv4 packets to the home network
	SendWAN(p []byte) // IPv6 packets to the lwAFTR
}

// Counters of the engine.
type Counters struct {
	EncapPackets, EncapBytes uint64
	DecapPackets, DecapBytes uint64
	DropUnprovisioned        uint64 // LAN packets while no binding is held
	DropMalformed            uint64
	DropFragment             uint64 // IPv4 fragments (not translated)
	DropProtocol             uint64 // protocols NAPT does not translate
	DropTTL                  uint64
	DropPortsExhausted       uint64 // no free port in the port set
	DropTooBig               uint64 // too big for the tunnel, DF clear
	DropNotForUs             uint64 // WAN packets not from the BR, not to us, outside the port set
	DropNoMapping            uint64 // WAN packets matching no NAPT mapping
	FragNeededSent           uint64 // ICMPv4 "fragmentation needed" to home hosts
	ReprovisionTriggers      uint64 // ICMPv6 code 5 errors about our packets
	Reprovisions             uint64 // provisioning restarts asked
	PacketTooBig             uint64 // ICMPv6 Packet Too Big lowering the tunnel MTU
}

// Engine is one lwB4.
type Engine struct {
	cfg     Config
	b       Binding
	has     bool
	nat     *napt
	mtu     int
	out     []byte
	send    Sender
	now     func() time.Time
	lastRep int64
	// OnReprovision is called (on the engine's goroutine) when the lwAFTR
	// says it has no binding for us; it must not block.
	OnReprovision func()

	C Counters
}

// New makes an lwB4 without a binding (SetBinding provisions it).
func New(cfg Config, send Sender) (*Engine, error) {
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.MTU < 1280 || cfg.MTU > 65535 {
		return nil, fmt.Errorf("lwb4: mtu %d out of range 1280..65535", cfg.MTU)
	}
	if cfg.B4 == ([16]byte{}) {
		return nil, errors.New("lwb4: no B4 address")
	}
	d := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	d(&cfg.TCPTimeout, 7440*time.Second)
	d(&cfg.UDPTimeout, 300*time.Second)
	d(&cfg.ICMPTimeout, 60*time.Second)
	d(&cfg.ReprovisionInterval, time.Second)
	return &Engine{cfg: cfg, mtu: cfg.MTU, out: make([]byte, 65536+40), send: send, now: time.Now}, nil
}

// SetClock replaces the clock (tests).
func (e *Engine) SetClock(now func() time.Time) { e.now = now }

// SetBinding installs a provisioned binding; a different address or port
// set starts a fresh NAPT (old mappings cannot be kept on other ports).
func (e *Engine) SetBinding(b Binding) error {
	if err := b.PortSet.Valid(); err != nil {
		return fmt.Errorf("lwb4: %w", err)
	}
	if b.PortSet.Length < 16 && b.PSID>>b.PortSet.Length != 0 {
		return fmt.Errorf("lwb4: psid %d does not fit in psid-length %d", b.PSID, b.PortSet.Length)
	}
	if e.has && e.b.IPv4 == b.IPv4 && e.b.PSID == b.PSID && e.b.PortSet == b.PortSet {
		e.b.BR = b.BR
		return nil
	}
	e.b, e.has = b, true
	e.nat = newNAPT(b.PortSet, b.PSID, [nProto]int64{int64(e.cfg.TCPTimeout), int64(e.cfg.UDPTimeout), int64(e.cfg.ICMPTimeout)})
	return nil
}

// ClearBinding drops the binding: LAN traffic waits for provisioning.
func (e *Engine) ClearBinding() { e.has, e.nat = false, nil }

// Binding returns the binding held.
func (e *Engine) Binding() (Binding, bool) { return e.b, e.has }

// Ports is the number of external ports of the port set.
func (e *Engine) Ports() int {
	if e.nat == nil {
		return 0
	}
	return len(e.nat.ports)
}

// Mappings is the number of live NAPT mappings.
func (e *Engine) Mappings() int {
	if e.nat == nil {
		return 0
	}
	return e.nat.active(e.now().UnixNano())
}

func protoIndex(p byte) int {
	switch p {
	case 6:
		return pTCP
	case 17:
		return pUDP
	case 1:
		return pICMP
	}
	return -1
}

// l4PortOffsets returns where a protocol's source and destination ports
// (ICMP: the query identifier, twice) and checksum are in its header.
func l4Fields(proto int) (src, dst, csum, minLen int) {
	switch proto {
	case pTCP:
		return 0, 2, 16, 20
	case pUDP:
		return 0, 2, 6, 8
	}
	return 4, 4, 2, 8
}

// FromLAN translates and encapsulates an IPv4 packet from the home
// network.
func (e *Engine) FromLAN(p []byte) {
	if !e.has {
		e.C.DropUnprovisioned++
		return
	}
	p, ok := checkIPv4(p)
	if !ok {
		e.C.DropMalformed++
		return
	}
	if be.Uint16(p[6:])&0x3fff != 0 {
		e.C.DropFragment++
		return
	}
	if p[8] <= 1 {
		e.C.DropTTL++
		return
	}
	ihl := int(p[0]&0xf) * 4
	proto := protoIndex(p[9])
	if proto < 0 {
		e.C.DropProtocol++
		return
	}
	sOff, _, cOff, minLen := l4Fields(proto)
	if len(p)-ihl < minLen {
		e.C.DropMalformed++
		return
	}
	if proto == pICMP && p[ihl] != 8 {
		// Only echo requests open a mapping from inside.
		e.C.DropProtocol++
		return
	}
	if 40+len(p) > e.mtu {
		if be.Uint16(p[6:])&0x4000 != 0 {
			e.fragNeeded(p)
		} else {
			e.C.DropTooBig++
		}
		return
	}
	now := e.now().UnixNano()
	srcIP := be.Uint32(p[12:])
	srcPort := be.Uint16(p[ihl+sOff:])
	ext, ok := e.nat.out(proto, srcIP, srcPort, now)
	if !ok {
		e.C.DropPortsExhausted++
		return
	}
	o := e.out[:40+len(p)]
	q := o[40:]
	copy(q, p)
	l4 := q[ihl:]
	// Source address and port rewritten, checksums adjusted (RFC 1624).
	be.PutUint32(q[12:], e.b.IPv4)
	be.PutUint16(l4[sOff:], ext)
	if proto != pUDP || be.Uint16(l4[cOff:]) != 0 {
		c := be.Uint16(l4[cOff:])
		if proto != pICMP {
			c = netpkt.Adjust32(c, srcIP, e.b.IPv4)
		}
		c = netpkt.Adjust16(c, srcPort, ext)
		if proto == pUDP && c == 0 {
			c = 0xffff
		}
		be.PutUint16(l4[cOff:], c)
	}
	q[8]--
	netpkt.SetIPv4Checksum(q[:ihl])
	netpkt.WriteIPv6Header(o, q[1], len(q), netpkt.ProtoIPIP, e.cfg.B4[:], e.b.BR[:])
	e.C.EncapPackets++
	e.C.EncapBytes += uint64(len(q))
	e.send.SendWAN(o)
}

// fragNeeded answers a DF packet too big for the tunnel with ICMPv4
// type 3 code 4 (RFC 1191) giving the inner MTU, from the B4's address on
// the path: the public one, as a router would use its outgoing address.
func (e *Engine) fragNeeded(p []byte) {
	e.C.FragNeededSent++
	ihl := int(p[0]&0xf) * 4
	quote := min(len(p), ihl+8)
	o := e.out[:20+8+quote]
	o[0], o[1] = 0x45, 0
	be.PutUint16(o[2:], uint16(len(o)))
	be.PutUint32(o[4:], 0)
	o[8], o[9] = 64, 1
	be.PutUint32(o[12:], e.b.IPv4)
	copy(o[16:20], p[12:16])
	netpkt.SetIPv4Checksum(o[:20])
	m := o[20:]
	m[0], m[1], m[2], m[3] = 3, 4, 0, 0
	be.PutUint16(m[4:], 0)
	be.PutUint16(m[6:], uint16(e.mtu-40))
	copy(m[8:], p[:quote])
	be.PutUint16(m[2:], netpkt.Checksum(m))
	e.send.SendLAN(o)
}

// FromWAN handles an IPv6 packet from the tunnel side.
func (e *Engine) FromWAN(p []byte) {
	if len(p) < 40 || p[0]>>4 != 6 {
		e.C.DropMalformed++
		return
	}
	pl := int(be.Uint16(p[4:]))
	if 40+pl > len(p) {
		e.C.DropMalformed++
		return
	}
	p = p[:40+pl]
	if string(p[24:40]) != string(e.cfg.B4[:]) {
		e.C.DropNotForUs++
		return
	}
	switch p[6] {
	case 58:
		e.icmpv6(p)
		return
	case 4:
	default:
		e.C.DropProtocol++
		return
	}
	if !e.has || string(p[8:24]) != string(e.b.BR[:]) {
		e.C.DropNotForUs++
		return
	}
	q, ok := checkIPv4(p[40:])
	if !ok {
		e.C.DropMalformed++
		return
	}
	if be.Uint32(q[16:]) != e.b.IPv4 {
		e.C.DropNotForUs++
		return
	}
	if be.Uint16(q[6:])&0x3fff != 0 {
		e.C.DropFragment++
		return
	}
	if q[8] <= 1 {
		e.C.DropTTL++
		return
	}
	ihl := int(q[0]&0xf) * 4
	proto := protoIndex(q[9])
	if proto < 0 {
		e.C.DropProtocol++
		return
	}
	o := e.out[:len(q)]
	copy(o, q)
	if proto == pICMP && len(o) >= ihl+8 && (o[ihl] == 3 || o[ihl] == 11 || o[ihl] == 12) {
		e.icmpErrorIn(o, ihl)
		return
	}
	_, dOff, cOff, minLen := l4Fields(proto)
	if len(o)-ihl < minLen || (proto == pICMP && o[ihl] != 0) {
		e.C.DropProtocol++
		return
	}
	l4 := o[ihl:]
	ext := be.Uint16(l4[dOff:])
	ip, port, ok := e.nat.in(proto, ext, e.now().UnixNano())
	if !ok {
		e.C.DropNoMapping++
		return
	}
	be.PutUint32(o[16:], ip)
	be.PutUint16(l4[dOff:], port)
	if proto != pUDP || be.Uint16(l4[cOff:]) != 0 {
		c := be.Uint16(l4[cOff:])
		if proto != pICMP {
			c = netpkt.Adjust32(c, e.b.IPv4, ip)
		}
		c = netpkt.Adjust16(c, ext, port)
		if proto == pUDP && c == 0 {
			c = 0xffff
		}
		be.PutUint16(l4[cOff:], c)
	}
	o[8]--
	netpkt.SetIPv4Checksum(o[:ihl])
	e.C.DecapPackets++
	e.C.DecapBytes += uint64(len(o))
	e.send.SendLAN(o)
}

// icmpErrorIn translates an ICMPv4 error about a packet we sent: the
// quoted packet's source (our address and external port) and the outer
// destination go back to the inside host.
func (e *Engine) icmpErrorIn(o []byte, ihl int) {
	m := o[ihl:]
	inner := m[8:]
	if len(inner) < 28 || inner[0]>>4 != 4 || be.Uint32(inner[12:]) != e.b.IPv4 {
		e.C.DropMalformed++
		return
	}
	iihl := int(inner[0]&0xf) * 4
	proto := protoIndex(inner[9])
	if proto < 0 || len(inner) < iihl+8 {
		e.C.DropProtocol++
		return
	}
	sOff, _, _, _ := l4Fields(proto)
	ext := be.Uint16(inner[iihl+sOff:])
	ip, port, ok := e.nat.in(proto, ext, e.now().UnixNano())
	if !ok {
		e.C.DropNoMapping++
		return
	}
	// The quoted header's checksums are not fixed (RFC 5508 §4.2 does
	// not require it and hosts do not check them); the ICMP checksum is
	// recomputed over the changed message.
	be.PutUint32(inner[12:], ip)
	netpkt.SetIPv4Checksum(inner[:iihl])
	be.PutUint16(inner[iihl+sOff:], port)
	be.PutUint32(o[16:], ip)
	o[8]--
	netpkt.SetIPv4Checksum(o[:ihl])
	m[2], m[3] = 0, 0
	be.PutUint16(m[2:], netpkt.Checksum(m))
	e.C.DecapPackets++
	e.C.DecapBytes += uint64(len(o))
	e.send.SendLAN(o)
}

// icmpv6 handles ICMPv6 to the B4 address: the lwAFTR's "no binding"
// error (RFC 7596 §5.2: Destination Unreachable, code 5 "source address
// failed ingress/egress policy") about a packet we tunnelled to it makes
// us provision again; Packet Too Big lowers the tunnel MTU.
func (e *Engine) icmpv6(p []byte) {
	m := p[40:]
	if len(m) < 8 || netpkt.ICMPv6Checksum(p[8:24], p[24:40], m) != 0 {
		e.C.DropMalformed++
		return
	}
	q := m[8:]
	ours := len(q) >= 40 && q[0]>>4 == 6 && q[6] == 4 && string(q[8:24]) == string(e.cfg.B4[:]) &&
		e.has && string(q[24:40]) == string(e.b.BR[:])
	switch {
	case m[0] == 1 && m[1] == 5 && ours:
		e.C.ReprovisionTriggers++
		now := e.now().UnixNano()
		if now-e.lastRep < int64(e.cfg.ReprovisionInterval) && e.lastRep != 0 {
			return
		}
		e.lastRep = now
		e.C.Reprovisions++
		if e.OnReprovision != nil {
			e.OnReprovision()
		}
	case m[0] == 2 && ours:
		mtu := int(be.Uint32(m[4:]))
		if mtu >= 1280 && mtu < e.mtu {
			e.mtu = mtu
			e.C.PacketTooBig++
		}
	default:
		e.C.DropProtocol++
	}
}

// TunnelMTU is the MTU in use (lowered by Packet Too Big).
func (e *Engine) TunnelMTU() int { return e.mtu }

// checkIPv4 is netpkt.CheckIPv4 plus the header checksum: the lwB4 is a
// router for its home network and does not forward corrupt headers.
func checkIPv4(p []byte) ([]byte, bool) {
	p, ok := netpkt.CheckIPv4(p)
	if !ok || netpkt.Checksum(p[:int(p[0]&0xf)*4]) != 0 {
		return nil, false
	}
	return p, true
}
