package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/sfc/node"
	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// EtherTypeNSH is the EtherType of NSH (RFC 8300, assigned by the IEEE):
// NSH directly over Ethernet between adjacent nodes.
const EtherTypeNSH = 0x894F

// EtherLen is the Ethernet header NSH frames carry (untagged).
const EtherLen = 14

// TPIDVLAN is the EtherType of an IEEE 802.1Q tag (C-VLAN); the tag is
// VLANLen bytes between the source MAC and the payload's EtherType.
const (
	TPIDVLAN = 0x8100
	VLANLen  = 4
)

// Peer is a node of the domain on the link: the address the policy
// table names it by (a locator, a boundary node, an egress node) and,
// when configured, its MAC. Peers without one are resolved with ARP
// (IPv4) or neighbour discovery (IPv6).
type Peer struct {
	Addr netip.Addr
	MAC  net.HardwareAddr // nil: resolve
}

// EtherConfig says which link NSH over Ethernet uses.
type EtherConfig struct {
	Interface string
	// Local is this node's address on the link, the sender of ARP
	// requests and neighbour solicitations; when invalid, the
	// interface's first address of each family.
	Local netip.Addr
	// IPv6: the domain's locators are IPv6 addresses. A dual-stack peer
	// has one MAC and two addresses; frames from it are taken as from its
	// address of the domain's family.
	IPv6 bool
	// Driver is the pktio driver ("" af_packet, or af_xdp).
	Driver string
	Log    *slog.Logger
	// Aging of the MACs learnt by ARP or neighbour discovery; zero
	// fields take the defaults (DefaultAging).
	Aging Aging
	// VLAN (1-4094): every frame sent carries an 802.1Q tag with this
	// VLAN id, and only frames of this VLAN are taken. Zero: frames are
	// sent untagged, and taken untagged or with any one 802.1Q tag.
	VLAN uint16
}

// Aging says how long a learnt MAC is trusted (RFC 4861 section 7.3,
// applied to ARP too). A MAC answered for is reachable for Reachable;
// after that it is stale: still used, but the next packet sent to it
// starts probing, one solicitation every Retrans; Probes solicitations
// left unanswered forget the MAC (the peer is unresolved again and asked
// for once every Retrans). So a next hop replaced by one with another
// MAC is followed within Reachable + Retrans of its first use, and a
// dead one stops getting frames after Reachable + Probes×Retrans.
//
// Probes are broadcast (ARP) or sent to the solicited-node multicast
// address (NDP), not unicast to the old MAC as RFC 4861 would: a
// replaced SF answers them at once, from its new MAC.
type Aging struct {
	Reachable time.Duration
	Retrans   time.Duration
	Probes    int
}

// DefaultAging: RFC 4861's REACHABLE_TIME (30 s), RETRANS_TIMER (1 s)
// and MAX_UNICAST_SOLICIT (3).
var DefaultAging = Aging{Reachable: 30 * time.Second, Retrans: time.Second, Probes: 3}

func (a Aging) withDefaults() Aging {
	if a.Reachable <= 0 {
		a.Reachable = DefaultAging.Reachable
	}
	if a.Retrans <= 0 {
		a.Retrans = DefaultAging.Retrans
	}
	if a.Probes <= 0 {
		a.Probes = DefaultAging.Probes
	}
	return a
}

// Ether carries NSH directly over Ethernet (EtherType 0x894F) on one
// pktio port: SendNSH puts the Ethernet header for the next hop's MAC in
// front of the NSH and queues the frame in the port's transmit ring; Run
// receives batches from the port's receive ring, gives NSH frames to the
// data plane with the sender's address (found by its MAC: a frame from an
// unknown MAC has none, so a boundary treats it as from outside the
// domain), and learns the peers' MACs from ARP and neighbour
// advertisements answering the solicitations it sends.
type Ether struct {
	port         pktio.Port
	name         string
	mac          [6]byte
	local4       [4]byte
	local6       [16]byte
	has4, has6   bool
	prefer6      bool
	log          *slog.Logger
	aging        Aging
	vlan         uint16
	mu           sync.Mutex // the port's transmit side and peers
	peers        map[netip.Addr]*peer
	byMAC        atomic.Pointer[map[[6]byte]netip.Addr]
	frame        []byte
	lastSolicit  time.Time
	TxUnresolved atomic.Uint64 // NSH packets for a peer whose MAC is not known (yet)
	Expired      atomic.Uint64 // learnt MACs forgotten: probes unanswered
	TxDrops      atomic.Uint64 // refused by the port
	RxNSH        atomic.Uint64
	RxBad        atomic.Uint64 // NSH frames too short or too big
	RxTagged     atomic.Uint64 // NSH frames that arrived with an 802.1Q tag (removed)
	RxOtherVLAN  atomic.Uint64 // NSH frames to us ignored: not of the configured VLAN
}

// peer is one entry of the neighbour table. Only configured peers have
// one (SetPeers), so what arrives on the link can change a MAC but never
// add an entry: the table is as big as the configuration.
type peer struct {
	mac    [6]byte
	known  bool
	static bool
	// For learnt MACs: when last confirmed by an answer, whether
	// SendNSH used it since the last probe, probes sent unanswered.
	confirmed time.Time
	used      bool
	probes    int
}

// OpenEther opens the port on the interface.
func OpenEther(c EtherConfig) (*Ether, error) {
	ifi, err := net.InterfaceByName(c.Interface)
	if err != nil {
		return nil, fmt.Errorf("sfc ethernet: %w", err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("sfc ethernet: %s has no Ethernet address", c.Interface)
	}
	e := &Ether{name: c.Interface, mac: [6]byte(ifi.HardwareAddr), log: c.Log, peers: map[netip.Addr]*peer{}, prefer6: c.IPv6,
		frame: make([]byte, EtherLen+node.Headroom+65536), aging: c.Aging.withDefaults()}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if c.VLAN > 4094 {
		return nil, fmt.Errorf("sfc ethernet: VLAN id %d is not 1-4094", c.VLAN)
	}
	e.vlan = c.VLAN
	if c.Local.IsValid() {
		e.setLocal(c.Local)
	}
	if addrs, err := ifi.Addrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ad, ok := netip.AddrFromSlice(ipn.IP); ok && !ad.Unmap().IsLinkLocalUnicast() {
					e.setLocal(ad.Unmap())
				}
			}
		}
	}
	empty := map[[6]byte]netip.Addr{}
	e.byMAC.Store(&empty)
	if e.port, err = pktio.Open(c.Interface, pktio.Config{Driver: c.Driver, Log: e.log}); err != nil {
		return nil, fmt.Errorf("sfc ethernet: %w", err)
	}
	return e, nil
}

// setLocal records a as the local address of its family unless one is
// set (the configured address comes first).
func (e *Ether) setLocal(a netip.Addr) {
	switch {
	case a.Is4() && !e.has4:
		e.local4, e.has4 = a.As4(), true
	case a.Is6() && !e.has6:
		e.local6, e.has6 = a.As16(), true
	}
}

// newEtherOnPort is OpenEther over a port already open (tests).
func newEtherOnPort(p pktio.Port, mac [6]byte, local netip.Addr) *Ether {
	e := &Ether{port: p, name: p.Name(), mac: mac, log: slog.New(slog.DiscardHandler), peers: map[netip.Addr]*peer{},
		frame: make([]byte, EtherLen+node.Headroom+65536), aging: DefaultAging}
	e.setLocal(local)
	empty := map[[6]byte]netip.Addr{}
	e.byMAC.Store(&empty)
	return e
}

// MAC is the port's Ethernet address.
func (e *Ether) MAC() net.HardwareAddr { return e.mac[:] }

// SetPeers replaces the set of peers (after a commit): MACs learnt for
// peers that stay are kept; the unknown ones are solicited at once.
func (e *Ether) SetPeers(ps []Peer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	next := make(map[netip.Addr]*peer, len(ps))
	for _, p := range ps {
		a := p.Addr.Unmap()
		if o := next[a]; o != nil && o.static || a.Is4() && e.has4 && a.As4() == e.local4 || a.Is6() && e.has6 && a.As16() == e.local6 {
			continue // named twice (a configured MAC wins), or this node
		}
		n := &peer{}
		if len(p.MAC) == 6 {
			n.mac, n.known, n.static = [6]byte(p.MAC), true, true
		} else if o := e.peers[a]; o != nil && o.known && !o.static {
			*n = *o
		}
		next[a] = n
	}
	e.peers = next
	e.publishLocked()
	e.solicitLocked()
}

// publishLocked makes the MAC-to-address map the receive path reads.
func (e *Ether) publishLocked() {
	m := make(map[[6]byte]netip.Addr, len(e.peers))
	for a, p := range e.peers {
		if o, dup := m[p.mac]; p.known && (!dup || o.Is6() != e.prefer6 && a.Is6() == e.prefer6) {
			m[p.mac] = a
		}
	}
	e.byMAC.Store(&m)
}

// solicitLocked sends one ARP request or neighbour solicitation for each
// peer whose MAC is unknown and probes the stale ones in use (see Aging),
// forgetting those whose probes went unanswered; then flushes.
func (e *Ether) solicitLocked() {
	now := time.Now()
	e.lastSolicit = now
	sent, forgot := false, false
	for a, p := range e.peers {
		switch {
		case p.static:
			continue
		case p.known && now.Sub(p.confirmed) <= e.aging.Reachable:
			continue // reachable
		case p.known && p.probes >= e.aging.Probes:
			p.known, p.probes, p.used, forgot = false, 0, false, true
			e.Expired.Add(1)
			e.log.Info("sfc ethernet: next hop unanswered, forgotten", "interface", e.name, "address", a)
		case p.known && !p.used && p.probes == 0:
			continue // stale, not in use: probed when next used
		case p.known:
			p.probes++
			p.used = false
		}
		sent = e.solicitOneLocked(a) || sent
	}
	if forgot {
		e.publishLocked()
	}
	if sent {
		_ = e.port.Flush()
	}
}

// solicitOneLocked queues an ARP request or neighbour solicitation for a.
func (e *Ether) solicitOneLocked(a netip.Addr) bool {
	f := e.frame
	switch {
	case a.Is4() && e.has4:
		hl := e.header(f, [6]byte(netpkt.BroadcastMAC), netpkt.EtherTypeARP)
		t := a.As4()
		netpkt.WriteARP(f[hl:], netpkt.ARPRequest, e.mac[:], e.local4[:], nil, t[:])
		f = f[:hl+netpkt.ARPLen]
	case a.Is6() && e.has6:
		hl := e.header(f, [6]byte{}, netpkt.EtherTypeIPv6)
		t := a.As16()
		dmac := netpkt.WriteNS(f[hl:], e.local6[:], t[:], e.mac[:])
		copy(f[0:6], dmac[:])
		f = f[:hl+netpkt.NDLen]
	default:
		return false // no local address of the family: nothing to ask with
	}
	return e.port.Send(f)
}

// header writes the Ethernet header of a frame to dst with EtherType et
// (behind the 802.1Q tag when a VLAN is configured) and returns its
// length.
func (e *Ether) header(f []byte, dst [6]byte, et uint16) int {
	copy(f[0:6], dst[:])
	copy(f[6:12], e.mac[:])
	if e.vlan == 0 {
		binary.BigEndian.PutUint16(f[12:], et)
		return EtherLen
	}
	binary.BigEndian.PutUint16(f[12:], TPIDVLAN)
	binary.BigEndian.PutUint16(f[14:], e.vlan) // priority 0, DEI 0
	binary.BigEndian.PutUint16(f[16:], et)
	return EtherLen + VLANLen
}

// learn records mac for a when a is a peer whose MAC is not configured.
func (e *Ether) learn(a netip.Addr, mac []byte) {
	if len(mac) != 6 {
		return
	}
	m := [6]byte(mac)
	if m == e.mac || mac[0]&1 != 0 {
		return // ours, or a group address: never a peer's
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.peers[a]
	if p == nil || p.static {
		return
	}
	p.confirmed, p.probes, p.used = time.Now(), 0, false
	if p.known && p.mac == m {
		return
	}
	p.mac, p.known = m, true
	e.publishLocked()
	e.log.Info("sfc ethernet: next hop resolved", "interface", e.name, "address", a, "mac", net.HardwareAddr(mac).String())
}

// SendNSH implements node.Output's part: the NSH packet in an Ethernet
// frame to the MAC of to. There is no outer IP header over Ethernet, so
// dscp is not carried.
func (e *Ether) SendNSH(to netip.Addr, _ uint8, pkt []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.peers[to]
	if p == nil || !p.known {
		e.TxUnresolved.Add(1)
		if time.Since(e.lastSolicit) > e.aging.Retrans {
			e.solicitLocked()
		}
		return
	}
	p.used = true
	if EtherLen+VLANLen+len(pkt) > len(e.frame) {
		e.TxDrops.Add(1)
		return
	}
	hl := e.header(e.frame, p.mac, EtherTypeNSH)
	f := e.frame[:hl+len(pkt)]
	copy(f[hl:], pkt)
	if !e.port.Send(f) {
		e.TxDrops.Add(1)
	}
}

// Flush sends what SendNSH queued (one kick of the port's ring).
func (e *Ether) Flush() {
	e.mu.Lock()
	_ = e.port.Flush()
	e.mu.Unlock()
}

// Run receives batches until Close: NSH frames to this port's MAC go to
// w.FromNetwork, with the sender's address; ARP and neighbour
// advertisements teach peers' MACs; everything else is the host's. After
// each batch it sends what the batch queued, and once every
// Aging.Retrans it asks again for peers still unknown and probes stale
// ones.
func (e *Ether) Run(w *node.Worker) error {
	b := pktio.NewBatch(pktio.DefaultBatch)
	buf := make([]byte, node.Headroom+65536)
	for {
		err := e.port.Receive(b)
		got := len(b.Frames)
		for _, f := range b.Frames {
			e.frameIn(w, f, buf)
		}
		e.port.Release(b)
		if got > 0 {
			e.Flush()
		}
		e.mu.Lock()
		if time.Since(e.lastSolicit) > e.aging.Retrans {
			e.solicitLocked()
		}
		e.mu.Unlock()
		if err != nil {
			if errors.Is(err, pktio.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// frameIn takes one received frame. An 802.1Q tag (one, TPID 0x8100)
// is removed: the VLAN must be the configured one, if any; a priority
// tag (VLAN 0) counts as untagged.
func (e *Ether) frameIn(w *node.Worker, f, buf []byte) {
	if len(f) < EtherLen {
		return
	}
	toUs := [6]byte(f[0:6]) == e.mac
	et, hl, vid := binary.BigEndian.Uint16(f[12:]), EtherLen, uint16(0)
	if et == TPIDVLAN {
		if len(f) < EtherLen+VLANLen {
			return
		}
		vid = binary.BigEndian.Uint16(f[14:]) & 0x0fff
		et, hl = binary.BigEndian.Uint16(f[16:]), EtherLen+VLANLen
	}
	if e.vlan != 0 && vid != e.vlan {
		if et == EtherTypeNSH && toUs {
			e.RxOtherVLAN.Add(1)
		}
		return
	}
	switch et {
	case EtherTypeNSH:
		if !toUs {
			return // the receive socket is promiscuous
		}
		p := f[hl:]
		if len(p) > len(buf)-node.Headroom {
			e.RxBad.Add(1)
			return
		}
		e.RxNSH.Add(1)
		if hl != EtherLen {
			e.RxTagged.Add(1)
		}
		from := (*e.byMAC.Load())[[6]byte(f[6:12])]
		n := copy(buf[node.Headroom:], p)
		w.FromNetwork(buf[:node.Headroom+n], node.Headroom, from)
	case netpkt.EtherTypeARP:
		if a, ok := netpkt.ParseARP(f[hl:]); ok {
			e.learn(netip.AddrFrom4([4]byte(a.SPA)), a.SHA)
		}
	case netpkt.EtherTypeIPv6:
		p := f[hl:]
		if len(p) < 40+4 || p[6] != netpkt.ProtoICMPv6 {
			return
		}
		switch p[40] {
		case netpkt.ICMPv6NeighborAdvertisement:
			if t, ll, ok := netpkt.NDTarget(p, 2); ok {
				e.learn(netip.AddrFrom16([16]byte(t)).Unmap(), ll)
			}
		case netpkt.ICMPv6NeighborSolicitation:
			// A peer asking for us says where it is.
			if _, ll, ok := netpkt.NDTarget(p, 1); ok {
				e.learn(netip.AddrFrom16([16]byte(p[8:24])).Unmap(), ll)
			}
		}
	}
}

// Port is the pktio port (its counters).
func (e *Ether) Port() pktio.Port { return e.port }

// Close stops Run.
func (e *Ether) Close() error { return e.port.Close() }

// External is an interface facing outside the domain on a boundary node
// (node/external-interface), read through a pktio port: IP packets sent
// to this interface's MAC but not to one of its addresses enter the
// domain (classified), NSH frames from outside have their NSH removed
// and are classified afresh (seed 004 section 11). The host keeps its own
// traffic (ARP, packets for its addresses); it must not forward what
// arrives on the interface itself (forwarding off on it), or packets
// would travel twice.
type External struct {
	port  pktio.Port
	mac   [6]byte
	local map[netip.Addr]bool
}

// OpenExternal opens the port.
func OpenExternal(iface, driver string, log *slog.Logger) (*External, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("sfc external interface: %w", err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("sfc external interface: %s has no Ethernet address", iface)
	}
	x := &External{mac: [6]byte(ifi.HardwareAddr), local: map[netip.Addr]bool{}}
	if addrs, err := ifi.Addrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ad, ok := netip.AddrFromSlice(ipn.IP); ok {
					x.local[ad.Unmap()] = true
				}
			}
		}
	}
	if x.port, err = pktio.Open(iface, pktio.Config{Driver: driver, Log: log}); err != nil {
		return nil, fmt.Errorf("sfc external interface: %w", err)
	}
	return x, nil
}

// Run receives batches until Close and hands what enters the domain to
// w; done runs after each batch.
func (x *External) Run(w *node.Worker, done func()) error {
	b := pktio.NewBatch(pktio.DefaultBatch)
	buf := make([]byte, node.Headroom+65536)
	for {
		err := x.port.Receive(b)
		got := len(b.Frames)
		for _, f := range b.Frames {
			x.frameIn(w, f, buf)
		}
		x.port.Release(b)
		if got > 0 {
			done()
		}
		if err != nil {
			if errors.Is(err, pktio.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

func (x *External) frameIn(w *node.Worker, f, buf []byte) {
	if len(f) < EtherLen || [6]byte(f[0:6]) != x.mac || len(f)-EtherLen > len(buf)-node.Headroom {
		return
	}
	p := f[EtherLen:]
	switch binary.BigEndian.Uint16(f[12:]) {
	case EtherTypeNSH:
		n := copy(buf[node.Headroom:], p)
		w.FromOutsideNSH(buf[:node.Headroom+n], node.Headroom)
		return
	case netpkt.EtherTypeIPv4:
		if len(p) < 20 || p[0]>>4 != 4 {
			return
		}
		dst := netip.AddrFrom4([4]byte(p[16:20]))
		if x.local[dst] || dst.IsMulticast() || dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return
		}
		if l := int(binary.BigEndian.Uint16(p[2:4])); l <= len(p) {
			p = p[:l] // without the link's padding
		}
	case netpkt.EtherTypeIPv6:
		if len(p) < 40 || p[0]>>4 != 6 {
			return
		}
		dst := netip.AddrFrom16([16]byte(p[24:40]))
		if x.local[dst] || dst.IsMulticast() || dst.IsLinkLocalUnicast() {
			return
		}
		if l := 40 + int(binary.BigEndian.Uint16(p[4:6])); l <= len(p) {
			p = p[:l]
		}
	default:
		return
	}
	n := copy(buf[node.Headroom:], p)
	w.FromOutside(buf[:node.Headroom+n], node.Headroom)
}

// Close stops Run.
func (x *External) Close() error { return x.port.Close() }
