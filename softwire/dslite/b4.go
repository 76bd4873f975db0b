package dslite

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebeat/wirebeat/softwire/netpkt"
)

// AFTRStatus is the reachability of an AFTR as the B4 sees it.
type AFTRStatus uint8

// The statuses of the YANG aftr-status type.
const (
	StatusUnknown AFTRStatus = iota
	StatusReachable
	StatusUnreachable
)

func (s AFTRStatus) String() string {
	return [...]string{"unknown", "reachable", "unreachable"}[s]
}

// FailoverPolicy says whether the B4 returns to a more preferred AFTR.
type FailoverPolicy uint8

// The policies of the YANG failover-policy type.
const (
	NonRevertive FailoverPolicy = iota
	Revertive
)

// FailoverReason says why the active AFTR changed.
type FailoverReason uint8

// The reasons of the YANG failover-reason type.
const (
	ReasonBFDDown FailoverReason = iota
	ReasonBFDUp
	ReasonAdmin
)

func (r FailoverReason) String() string { return [...]string{"bfd-down", "bfd-up", "admin"}[r] }

// FailoverEvent reports a change of the active AFTR. From or To is
// invalid when no AFTR was, or is, active.
type FailoverEvent struct {
	Time     time.Time
	From, To netip.Addr
	Reason   FailoverReason
}

// AFTREntry is one AFTR the B4 may use: lower preference wins, then the
// lower address.
type AFTREntry struct {
	Addr       netip.Addr
	Preference uint8
}

// DiscoveredPreference is the preference of an AFTR learnt from DHCPv6
// AFTR-Name (the YANG default of a configured one).
const DiscoveredPreference = 100

// B4Config configures a B4.
type B4Config struct {
	// Address is the B4's IPv6 tunnel source (from configuration or the
	// WAN interface).
	Address netip.Addr
	// InnerAddress is the B4's IPv4 address inside the tunnel (192.0.0.2
	// when unset).
	InnerAddress netip.Addr
	// TunnelMTU is the largest IPv6 packet sent to the AFTR (1500 when
	// unset); larger ones are fragmented after encapsulation.
	TunnelMTU int
	AFTRs     []AFTREntry
	Policy    FailoverPolicy
	// HoldDown is how long an AFTR must have been reachable before the
	// B4 moves to it by choice (reverting); a move away from an
	// unreachable active AFTR is never delayed.
	HoldDown time.Duration
	// MaxReassemblyPackets and MaxFragmentsPerPacket bound reassembly
	// (64 and 16 when zero).
	MaxReassemblyPackets, MaxFragmentsPerPacket int

	// OnBFD receives the payload of every BFD packet an AFTR sends to
	// the B4's inner address, with the AFTR's IPv6 address.
	OnBFD func(aftr netip.Addr, ttl uint8, payload []byte)
	// OnFailover is told about every change of the active AFTR, after it
	// was logged. It is called with the B4's control lock held and must
	// not call back into the B4.
	OnFailover func(FailoverEvent)
	Log        *slog.Logger
}

// B4Counters count what the B4 did.
type B4Counters struct {
	RcvdIPv4Packets, RcvdIPv4Bytes uint64 // from the LAN
	RcvdIPv6Packets, RcvdIPv6Bytes uint64 // from the WAN
	EncapPackets, EncapBytes       uint64 // LAN to tunnel
	DecapPackets, DecapBytes       uint64 // tunnel to LAN
	DropNoAFTR                     uint64 // no usable AFTR
	DropNotFromAFTR                uint64 // IPv6 not from a known AFTR or not to us
	DropMalformed                  uint64
	DropTTLZero                    uint64
	DropFragments                  uint64
	Reassembled                    uint64
	FragmentedOut                  uint64
	MSSClamped                     uint64
	BFDIn, BFDOut                  uint64
}

type aftrState struct {
	AFTREntry
	configured, discovered bool
	status                 AFTRStatus
	since                  time.Time // last status change
}

// AFTRInfo is what the B4 knows of one AFTR.
type AFTRInfo struct {
	AFTREntry
	Configured, Discovered bool
	Status                 AFTRStatus
	LastStatusChange       time.Time
	Active                 bool
}

// B4 is one DS-Lite B4. The data plane (FromLAN, FromWAN, SendBFD) runs
// on one goroutine; the control methods (SetStatus, SetAFTRs,
// SetDiscovered, Advance, AFTRs) may be called from others: they take
// the control lock and publish the active AFTR atomically.
type B4 struct {
	cfg      B4Config
	snd      Sender
	log      *slog.Logger
	self     [16]byte
	inner    uint32
	mssClamp uint16

	mu            sync.Mutex
	aftrs         []aftrState // sorted by preference, then address
	active        int         // index in aftrs, -1 for none
	activeAddr    atomic.Pointer[[16]byte]
	known         atomic.Pointer[[]([16]byte)] // every AFTR we accept packets from
	failovers     uint64
	lastFailover  time.Time
	discoveredFor string

	r6, r4  *netpkt.Reassembler
	reasm   []byte
	obuf    []byte
	fbuf    []byte
	fragID6 uint32
	nowNano atomic.Int64

	// C counts what happened; the data plane goroutine writes it.
	C B4Counters
}

// NewB4 builds a B4 sending through snd; its clock starts at now.
func NewB4(cfg B4Config, snd Sender, now time.Time) (*B4, error) {
	if !cfg.Address.Is6() || cfg.Address.Is4In6() {
		return nil, fmt.Errorf("dslite: B4 address %v is not an IPv6 address", cfg.Address)
	}
	if !cfg.InnerAddress.IsValid() {
		cfg.InnerAddress = B4InnerAddress
	}
	if !cfg.InnerAddress.Is4() {
		return nil, fmt.Errorf("dslite: B4 inner address %v is not IPv4", cfg.InnerAddress)
	}
	if cfg.TunnelMTU == 0 {
		cfg.TunnelMTU = 1500
	}
	if cfg.TunnelMTU < 1280 || cfg.TunnelMTU > 65535 {
		return nil, fmt.Errorf("dslite: tunnel MTU %d out of 1280..65535", cfg.TunnelMTU)
	}
	if cfg.MaxReassemblyPackets == 0 {
		cfg.MaxReassemblyPackets = 64
	}
	if cfg.MaxFragmentsPerPacket == 0 {
		cfg.MaxFragmentsPerPacket = 16
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	b := &B4{cfg: cfg, snd: snd, log: cfg.Log, self: cfg.Address.As16(), active: -1,
		inner:    be.Uint32(cfg.InnerAddress.AsSlice()),
		mssClamp: uint16(cfg.TunnelMTU - 40 - 20 - 20),
		r6:       netpkt.NewReassembler(cfg.MaxReassemblyPackets, cfg.MaxFragmentsPerPacket),
		r4:       netpkt.NewReassembler(cfg.MaxReassemblyPackets, cfg.MaxFragmentsPerPacket),
		reasm:    make([]byte, netpkt.MaxDatagram+64), obuf: make([]byte, netpkt.MaxDatagram+128), fbuf: make([]byte, 65536)}
	if err := b.SetAFTRs(cfg.AFTRs, now); err != nil {
		return nil, err
	}
	return b, nil
}

// ErrAFTRAddress is returned for an AFTR address that is not IPv6.
var ErrAFTRAddress = errors.New("dslite: AFTR address must be IPv6")

// SetAFTRs replaces the configured AFTR list; discovered AFTRs stay.
func (b *B4) SetAFTRs(list []AFTREntry, now time.Time) error {
	for _, e := range list {
		if !e.Addr.Is6() || e.Addr.Is4In6() {
			return fmt.Errorf("%w: %v", ErrAFTRAddress, e.Addr)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.merge(list, true, now)
	return nil
}

// SetDiscovered replaces the AFTR addresses learnt from DHCPv6 AFTR-Name
// name (resolved by DNS); configured AFTRs stay. An address both
// configured and discovered keeps its configured preference.
func (b *B4) SetDiscovered(name string, addrs []netip.Addr, now time.Time) {
	list := make([]AFTREntry, 0, len(addrs))
	for _, a := range addrs {
		if a.Is6() && !a.Is4In6() {
			list = append(list, AFTREntry{Addr: a, Preference: DiscoveredPreference})
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if name != b.discoveredFor || len(list) > 0 {
		b.log.Info("dslite: AFTR discovered", "aftr-name", name, "addresses", addrs)
	}
	b.discoveredFor = name
	b.merge(list, false, now)
}

// merge replaces the configured (or discovered) entries with list,
// keeping the status of AFTRs that stay, then chooses again.
func (b *B4) merge(list []AFTREntry, configured bool, now time.Time) {
	var activeAddr netip.Addr
	if b.active >= 0 {
		activeAddr = b.aftrs[b.active].Addr
	}
	old := map[netip.Addr]aftrState{}
	for _, a := range b.aftrs {
		old[a.Addr] = a
	}
	next := map[netip.Addr]*aftrState{}
	var out []aftrState
	add := func(e AFTREntry, conf bool) {
		if p, ok := next[e.Addr]; ok {
			if conf {
				p.Preference, p.configured = e.Preference, true
			} else {
				p.discovered = true
			}
			return
		}
		st := aftrState{AFTREntry: e, since: now}
		if o, ok := old[e.Addr]; ok {
			st.status, st.since = o.status, o.since
		}
		st.configured, st.discovered = conf, !conf
		out = append(out, st)
		next[e.Addr] = &out[len(out)-1]
	}
	out = make([]aftrState, 0, len(b.aftrs)+len(list))
	for _, e := range list {
		add(e, configured)
	}
	for _, a := range b.aftrs {
		if configured && a.discovered {
			add(a.AFTREntry, false)
		}
		if !configured && a.configured {
			add(a.AFTREntry, true)
		}
	}
	slices.SortFunc(out, func(x, y aftrState) int {
		return cmp.Or(cmp.Compare(x.Preference, y.Preference), x.Addr.Compare(y.Addr))
	})
	b.aftrs = out
	b.active = -1
	for i := range out {
		if out[i].Addr == activeAddr {
			b.active = i
		}
	}
	known := make([][16]byte, len(out))
	for i := range out {
		known[i] = out[i].Addr.As16()
	}
	b.known.Store(&known)
	b.choose(now, ReasonAdmin, activeAddr)
}

// SetStatus records the reachability of an AFTR (from BFD) and fails
// over if that changes the choice.
func (b *B4) SetStatus(aftr netip.Addr, st AFTRStatus, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.aftrs {
		a := &b.aftrs[i]
		if a.Addr != aftr || a.status == st {
			continue
		}
		b.log.Info("dslite: AFTR status", "aftr", aftr, "status", st.String(), "was", a.status.String())
		a.status, a.since = st, now
		reason := ReasonBFDUp
		if st == StatusUnreachable {
			reason = ReasonBFDDown
		}
		var from netip.Addr
		if b.active >= 0 {
			from = b.aftrs[b.active].Addr
		}
		b.choose(now, reason, from)
		return
	}
}

// Advance lets a revertive B4 move back once a more preferred AFTR has
// been reachable for the hold-down time.
func (b *B4) Advance(now time.Time) {
	b.nowNano.Store(now.UnixNano())
	if b.cfg.Policy != Revertive {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var from netip.Addr
	if b.active >= 0 {
		from = b.aftrs[b.active].Addr
	}
	b.choose(now, ReasonBFDUp, from)
}

// choose applies the failover policy; from is the AFTR active before
// the change that called it.
func (b *B4) choose(now time.Time, reason FailoverReason, from netip.Addr) {
	pick := b.active
	usable := func(i int) bool { return b.aftrs[i].status != StatusUnreachable }
	if pick < 0 || !usable(pick) {
		// Leaving an unreachable (or no) AFTR is never delayed.
		pick = -1
		for i := range b.aftrs {
			if usable(i) {
				pick = i
				break
			}
		}
	} else if b.cfg.Policy == Revertive {
		for i := range pick {
			a := &b.aftrs[i]
			if a.status == StatusReachable && now.Sub(a.since) >= b.cfg.HoldDown {
				pick = i
				break
			}
		}
	}
	var to netip.Addr
	if pick >= 0 {
		to = b.aftrs[pick].Addr
		addr := to.As16()
		b.activeAddr.Store(&addr)
	} else {
		b.activeAddr.Store(nil)
	}
	b.active = pick
	if to == from {
		return
	}
	if from.IsValid() || reason != ReasonAdmin { // not the first choice at start
		b.failovers++
	}
	b.lastFailover = now
	ev := FailoverEvent{Time: now, From: from, To: to, Reason: reason}
	b.log.Warn("dslite: active AFTR changed", "from", from, "to", to, "reason", reason.String())
	if b.cfg.OnFailover != nil {
		b.cfg.OnFailover(ev)
	}
}

// Active returns the AFTR the tunnel goes to.
func (b *B4) Active() (netip.Addr, bool) {
	p := b.activeAddr.Load()
	if p == nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(*p), true
}

// Failovers reports how often the active AFTR changed, and when last.
func (b *B4) Failovers() (uint64, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failovers, b.lastFailover
}

// AFTRs reports every AFTR the B4 knows, in order of preference.
func (b *B4) AFTRs() []AFTRInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]AFTRInfo, len(b.aftrs))
	for i, a := range b.aftrs {
		out[i] = AFTRInfo{AFTREntry: a.AFTREntry, Configured: a.configured, Discovered: a.discovered,
			Status: a.status, LastStatusChange: a.since, Active: i == b.active}
	}
	return out
}

// Address is the B4's tunnel address.
func (b *B4) Address() netip.Addr { return b.cfg.Address }

func (b *B4) fromKnownAFTR(src []byte) bool {
	k := b.known.Load()
	if k == nil {
		return false
	}
	for i := range *k {
		if string((*k)[i][:]) == string(src) {
			return true
		}
	}
	return false
}

// FromLAN carries an IPv4 packet from the LAN to the active AFTR. It may
// modify pkt.
func (b *B4) FromLAN(pkt []byte) {
	b.C.RcvdIPv4Packets++
	b.C.RcvdIPv4Bytes += uint64(len(pkt))
	p, ok := netpkt.CheckIPv4(pkt)
	if !ok {
		b.C.DropMalformed++
		return
	}
	aftr := b.activeAddr.Load()
	if aftr == nil {
		b.C.DropNoAFTR++
		return
	}
	if p[8] <= 1 {
		b.C.DropTTLZero++
		return
	}
	decTTL(p)
	ihl := int(p[0]&0xf) * 4
	if p[9] == 6 && !netpkt.IsFragment4(p) && len(p) >= ihl+20 && p[ihl+13]&0x02 != 0 && clampMSS(p[ihl:], b.mssClamp) {
		b.C.MSSClamped++
	}
	b.C.EncapPackets++
	b.C.EncapBytes += uint64(len(p))
	b.encap(aftr, p, p[1])
}

func (b *B4) encap(aftr *[16]byte, p []byte, tos byte) {
	if encap4in6(b.snd.SendIPv6, b.obuf, b.fbuf, &b.fragID6, b.cfg.TunnelMTU, tos, b.self[:], aftr[:], p) {
		b.C.FragmentedOut++
	}
}

// FromWAN takes an IPv6 packet from the WAN: IPv4-in-IPv6 from a known
// AFTR to the B4's address is decapsulated to the LAN, or to BFD.
func (b *B4) FromWAN(pkt []byte) {
	b.C.RcvdIPv6Packets++
	b.C.RcvdIPv6Bytes += uint64(len(pkt))
	p, ok := netpkt.CheckIPv6(pkt)
	if !ok {
		b.C.DropMalformed++
		return
	}
	if string(p[24:40]) != string(b.self[:]) {
		b.C.DropNotFromAFTR++
		return
	}
	if !b.fromKnownAFTR(p[8:24]) {
		// An AFTR behind an anycast endpoint answers BFD from its unicast
		// address (seed 000): BFD inside the tunnel is taken from any
		// source, the engine matching it to a session by discriminator;
		// nothing else is.
		if inner, ok := netpkt.CheckIPv4(p[40:]); ok && p[6] == netpkt.ProtoIPIP && be.Uint32(inner[16:]) == b.inner {
			b.toInner(p[8:24], inner)
			return
		}
		b.C.DropNotFromAFTR++
		return
	}
	if p[6] == netpkt.ProtoFragment {
		whole, st, n := b.r6.Add6(b.nowNano.Load(), p, b.reasm)
		if p, ok = reassembled(whole, st, n, &b.C.Reassembled, &b.C.DropFragments, &b.C.DropMalformed); !ok {
			return
		}
	}
	if p[6] != netpkt.ProtoIPIP {
		b.C.DropNotFromAFTR++
		return
	}
	inner, ok := netpkt.CheckIPv4(p[40:])
	if !ok {
		b.C.DropMalformed++
		return
	}
	if be.Uint32(inner[16:]) == b.inner {
		b.toInner(p[8:24], inner)
		return
	}
	if inner[8] <= 1 {
		b.C.DropTTLZero++
		return
	}
	decTTL(inner)
	b.C.DecapPackets++
	b.C.DecapBytes += uint64(len(inner))
	b.snd.SendIPv4(inner)
}

// toInner takes a packet from an AFTR to the B4's inner address: BFD,
// whole or reassembled.
func (b *B4) toInner(aftr []byte, p []byte) {
	if netpkt.IsFragment4(p) {
		b.C.DropFragments++
		return
	}
	ihl := int(p[0]&0xf) * 4
	l4 := p[ihl:]
	if p[9] != 17 || len(l4) < 8 || be.Uint16(l4[2:]) != BFDPort {
		b.C.DropNotFromAFTR++
		return
	}
	ul := int(be.Uint16(l4[4:]))
	if ul < 8 || ul > len(l4) || (be.Uint16(l4[6:]) != 0 && netpkt.L4Checksum4(p[12:16], p[16:20], 17, l4[:ul]) != 0) {
		b.C.DropMalformed++
		return
	}
	b.C.BFDIn++
	if b.cfg.OnBFD != nil {
		b.cfg.OnBFD(netip.AddrFrom16([16]byte(aftr)), p[8], l4[8:ul])
	}
}

// SendBFD sends a BFD control packet to AFTR aftr inside the tunnel to
// it (whether or not it is the active one): from the inner address to
// 192.0.0.1, TTL 255.
func (b *B4) SendBFD(aftr netip.Addr, payload []byte) {
	if !aftr.Is6() || len(payload) > 512 {
		return
	}
	var src [4]byte
	be.PutUint32(src[:], b.inner)
	n := writeBFD(b.obuf[40:], src[:], AFTRInnerAddress.AsSlice(), payload)
	dst := aftr.As16()
	h := b.obuf[:40+n]
	netpkt.WriteIPv6Header(h, 0xc0, n, netpkt.ProtoIPIP, b.self[:], dst[:])
	b.C.BFDOut++
	b.snd.SendIPv6(h)
}
