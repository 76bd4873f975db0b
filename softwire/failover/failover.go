// Package failover is what a lwAFTR of an anycast set does with traffic
// from a B4 it has no binding for (seed 001, RFC 7596): the two mechanisms
// of the seed, and the dynamic bindings they create.
//
//   - ICMPv6 trigger: answer with the RFC 7596 ICMPv6 error (Destination
//     Unreachable, code 5), at most once per B4 per interval, so the lwB4
//     provisions again; the binding comes from that provisioning
//     (Provisioned).
//   - Data-packet trigger: ask the supporting system (the etcd store,
//     softwire/bindstore, a local lookup in the common case) whether the
//     (B4 IPv6, IPv4, port) triple is a binding; if so install it and
//     forward, so the B4's connections survive. While a B4 waits, its
//     packets are held in a small queue; a flood of spoofed sources is
//     bounded by a rate limit on validations, a bound on the B4s waiting,
//     and a negative cache, all counted. Known B4s never reach this code.
//
// A Manager is an lwaftr.UnknownSource: Unknown and Poll run on the
// engine's goroutine and never block; validations run on a few worker
// goroutines. Nothing on the packet path allocates: held packets go into
// preallocated buffers and the negative cache is a fixed array.
package failover

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/bindstore"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

// Mode is the failover mechanism.
type Mode int

// Modes, as in the YANG failover-mode.
const (
	None Mode = iota
	ICMPv6Trigger
	DataPacketTrigger
)

func (m Mode) String() string {
	return [...]string{"none", "icmpv6-trigger", "data-packet-trigger"}[m]
}

// Origin says how a dynamic binding came to be.
type Origin int

// Origins.
const (
	// Validated: a data packet from an unknown B4 was confirmed by the
	// store (data-packet trigger).
	Validated Origin = iota
	// Provisioned: this lwAFTR saw the B4's provisioning succeed (the
	// primary, or a backup after an ICMPv6 trigger) and wrote the
	// binding to the store.
	Provisioned
	// Reprovisioned: as Provisioned, for a B4 this lwAFTR had sent an
	// ICMPv6 trigger to (a backup taking over by the ICMPv6 mechanism).
	Reprovisioned
)

func (o Origin) String() string {
	return [...]string{"data-packet-validated", "provisioned", "reprovisioned"}[o]
}

// Config of a Manager. Zero values get the defaults noted.
type Config struct {
	Mode Mode
	// Anycast is the address shared by the set: only packets to it are
	// failover traffic.
	Anycast [16]byte
	// Lifetime of a dynamic binding: its etcd lease, and how long a
	// binding stays without being provisioned or validated again
	// (default 2 h).
	Lifetime time.Duration
	// MaxDynamic bounds the dynamic bindings held (default 65536).
	MaxDynamic int
	// QueueDepth packets are held per waiting B4 (default 4);
	// MaxPending B4s may wait at once (default 256).
	QueueDepth, MaxPending int
	// QueryRate validations per second at most, QueryBurst at once
	// (defaults 2000 and 200).
	QueryRate, QueryBurst float64
	// NegativeTTL: how long a refused B4 is dropped without asking again
	// (default 5 s); UnreachableTTL the same when the store could not
	// answer (default 1 s).
	NegativeTTL, UnreachableTTL time.Duration
	// ICMPInterval: at most one ICMPv6 trigger per B4 per interval
	// (default 1 s).
	ICMPInterval time.Duration
	// QueryTimeout bounds one validation (default 1 s).
	QueryTimeout time.Duration
	// Workers validating in parallel (default 4).
	Workers int
	Log     *slog.Logger
	// OnCreated and OnRemoved, when set, are called on the engine's
	// goroutine for each dynamic binding; they must not block.
	OnCreated func(DynamicBinding)
	OnRemoved func(DynamicBinding, string)
	// Now is the clock (tests).
	Now func() time.Time
	// Table, when set, is where bindings are added and removed instead
	// of the engine's own table: for engines reading a table they must
	// not change (workers sharing a bindingtable.Shared). Its methods
	// must not block (they queue the change for the table's writer); held
	// packets are redelivered once the engine sees the binding.
	Table TableWriter
}

// TableWriter changes a binding table shared by engines.
type TableWriter interface {
	Add(sw bindingtable.Softwire) error
	Remove(ipv4 uint32, psid uint16)
}

// Validator confirms bindings: bindstore.Store.
type Validator interface {
	Validate(ctx context.Context, b4 [16]byte, ipv4 uint32, port uint16) (bindstore.Binding, bindstore.Result, error)
}

// CacheLookup is a local, non-blocking lookup in the validation source's
// cache (bindstore.Store.Lookup); with it, traffic from the Internet to a
// B4 this lwAFTR has no binding for also triggers the takeover.
type CacheLookup interface {
	Lookup(ipv4 uint32, port uint16) (bindstore.Binding, bool)
}

// Writer stores bindings this lwAFTR provisions: bindstore.Store.
type Writer interface {
	Create(ctx context.Context, b bindstore.Binding, ttl time.Duration) (int64, error)
	Refresh(ctx context.Context, lease int64) error
}

// DynamicBinding is one binding the Manager created.
type DynamicBinding struct {
	Binding bindstore.Binding
	Origin  Origin
	Created time.Time
	// Renewed is when it was last provisioned or validated again.
	Renewed time.Time
	Lease   int64
}

// Counters, all monotonic.
type Counters struct {
	Unknown           atomic.Uint64 // failover packets from unknown sources
	NotAnycast        atomic.Uint64 // unknown sources not sent to the anycast address
	Queued            atomic.Uint64 // packets held while their B4 was validated
	Released          atomic.Uint64 // held packets forwarded after the binding came
	QueueDrops        atomic.Uint64 // packets dropped: their B4's queue was full or refused
	ValidationsAsked  atomic.Uint64 // validations started
	ValidationsOK     atomic.Uint64 // bindings confirmed by the store
	ValidationsFailed atomic.Uint64 // refused, another B4's, or unanswered
	StoreUnreachable  atomic.Uint64 // validations the store could not answer
	RateLimited       atomic.Uint64 // unknown B4s dropped by the validation rate limit
	PendingFull       atomic.Uint64 // unknown B4s dropped: too many waiting already
	NegativeHits      atomic.Uint64 // packets of recently refused B4s dropped
	ICMPTriggers      atomic.Uint64 // ICMPv6 errors asked of the engine
	ICMPSuppressed    atomic.Uint64 // unknown packets within a B4's ICMP interval
	Created           atomic.Uint64 // dynamic bindings created
	Removed           atomic.Uint64 // dynamic bindings removed
	MaxDynamicDrops   atomic.Uint64 // bindings not created: max-dynamic-bindings reached
	InboundUnknown    atomic.Uint64 // Internet packets to an address and port without a binding
	InboundValidated  atomic.Uint64 // of those, found in the store's cache (binding created)
	InboundHeld       atomic.Uint64 // Internet packets held until their binding was installed
	InstallErrors     atomic.Uint64 // bindings the table refused
	LearntDropped     atomic.Uint64 // store bindings not looked at: too many at once
}

// holdBytes is the largest packet held while waiting; bigger ones are
// dropped (the validation still happens).
const holdBytes = 2048

// pending is one B4 waiting for its validation.
type pending struct {
	b4   [16]byte
	ipv4 uint32
	port uint16
	n    int
	lens []int
	pkts [][]byte
}

type waitingSlot struct {
	slot  int32
	b     bindstore.Binding
	until int64
}

// visibleWithin bounds how long held packets wait for a shared table to
// show a binding.
const visibleWithin = time.Second

type request struct {
	slot int32
	b4   [16]byte
	ipv4 uint32
	port uint16
}

type result struct {
	slot int32
	b    bindstore.Binding
	res  bindstore.Result
	err  error
}

// negSize is the number of negative-cache (and ICMP interval) slots: a
// direct-mapped array, so its memory is fixed whatever a flood does.
const negSize = 1 << 14

type negEntry struct {
	b4    [16]byte
	until int64
}

// Manager implements lwaftr.UnknownSource.
type Manager struct {
	cfg Config
	v   Validator
	w   Writer
	log *slog.Logger

	// Engine goroutine only.
	pend    []pending
	pendIdx map[[16]byte]int32
	free    []int32
	neg     [negSize]negEntry
	icmp    [negSize]negEntry
	tokens  float64
	tokAt   int64
	inPoll  bool
	scan    int
	order   []uint64 // keys of dyn, for the expiry scan
	results chan result
	reqs    chan request
	lookup  CacheLookup
	// waiting: validated B4s whose held packets wait for the shared
	// table to show their binding (Config.Table), with a deadline.
	waiting []waitingSlot
	// inbound: bindings found for Internet packets, and those packets,
	// applied at the next Poll.
	inBind []bindstore.Binding
	inPkts [][]byte
	inLens []int
	inN    int

	// mu guards dyn and the queues filled from other goroutines.
	mu          sync.Mutex
	dyn         map[uint64]*DynamicBinding
	provisioned []DynamicBinding
	storeGone   []bindstore.Event
	// learnt: bindings the store installed while ICMPv6 triggers were
	// out, checked at Poll against the B4s triggered.
	learnt []bindstore.Binding

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	outOfService atomic.Bool

	C Counters
}

// SetInService says whether this lwAFTR serves the anycast address. Out
// of service (shutting down, data plane not forwarding) it takes over no
// B4: unknown sources are dropped without validation or ICMPv6 error,
// while the network moves the anycast route away.
func (m *Manager) SetInService(in bool) { m.outOfService.Store(!in) }

// InService reports what SetInService last said (true at start).
func (m *Manager) InService() bool { return !m.outOfService.Load() }

// New makes a Manager; v and w may be nil in modes that do not use them.
func New(cfg Config, v Validator, w Writer) (*Manager, error) {
	if cfg.Mode == DataPacketTrigger && v == nil {
		return nil, fmt.Errorf("failover: data-packet-trigger needs a validation source")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Lifetime, 2*time.Hour)
	def(&cfg.NegativeTTL, 5*time.Second)
	def(&cfg.UnreachableTTL, time.Second)
	def(&cfg.ICMPInterval, time.Second)
	def(&cfg.QueryTimeout, time.Second)
	if cfg.MaxDynamic <= 0 {
		cfg.MaxDynamic = 65536
	}
	if cfg.QueueDepth <= 0 {
		cfg.QueueDepth = 4
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 256
	}
	if cfg.QueryRate <= 0 {
		cfg.QueryRate = 2000
	}
	if cfg.QueryBurst <= 0 {
		cfg.QueryBurst = 200
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{cfg: cfg, v: v, w: w, log: cfg.Log.With("component", "failover", "mode", cfg.Mode.String()),
		pend: make([]pending, cfg.MaxPending), pendIdx: make(map[[16]byte]int32, cfg.MaxPending),
		results: make(chan result, cfg.MaxPending), reqs: make(chan request, cfg.MaxPending),
		tokens: cfg.QueryBurst, tokAt: cfg.Now().UnixNano(),
		dyn: map[uint64]*DynamicBinding{}, ctx: ctx, cancel: cancel}
	for i := range m.pend {
		p := &m.pend[i]
		p.lens = make([]int, cfg.QueueDepth)
		p.pkts = make([][]byte, cfg.QueueDepth)
		for j := range p.pkts {
			p.pkts[j] = make([]byte, holdBytes)
		}
		m.free = append(m.free, int32(i))
	}
	if cl, ok := v.(CacheLookup); ok {
		m.lookup = cl
	}
	m.inPkts, m.inLens = make([][]byte, inboundHold), make([]int, inboundHold)
	for i := range m.inPkts {
		m.inPkts[i] = make([]byte, holdBytes)
	}
	m.inBind = make([]bindstore.Binding, 0, inboundHold)
	if cfg.Mode == DataPacketTrigger {
		for range cfg.Workers {
			m.wg.Add(1)
			go m.worker()
		}
	}
	return m, nil
}

// Close stops the workers.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
}

// Mode returns the mechanism in use.
func (m *Manager) Mode() Mode { return m.cfg.Mode }

func (m *Manager) worker() {
	defer m.wg.Done()
	for {
		select {
		case <-m.ctx.Done():
			return
		case r := <-m.reqs:
			ctx, cancel := context.WithTimeout(m.ctx, m.cfg.QueryTimeout)
			b, res, err := m.v.Validate(ctx, r.b4, r.ipv4, r.port)
			cancel()
			// results has room for every pending slot: never blocks.
			m.results <- result{slot: r.slot, b: b, res: res, err: err}
		}
	}
}

func negSlot(b4 *[16]byte) uint32 {
	h := uint64(14695981039346656037)
	for _, c := range b4 {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return uint32(h) & (negSize - 1)
}

// Unknown implements lwaftr.UnknownSource.
func (m *Manager) Unknown(p []byte, ipv4 uint32, port uint16) lwaftr.UnknownVerdict {
	if m.inPoll || m.cfg.Mode == None {
		return lwaftr.UnknownDefault
	}
	if string(p[24:40]) != string(m.cfg.Anycast[:]) {
		m.C.NotAnycast.Add(1)
		return lwaftr.UnknownDefault
	}
	m.C.Unknown.Add(1)
	if m.outOfService.Load() {
		return lwaftr.UnknownDrop
	}
	b4 := (*[16]byte)(p[8:24])
	now := m.cfg.Now().UnixNano()
	if m.cfg.Mode == ICMPv6Trigger {
		e := &m.icmp[negSlot(b4)]
		if e.b4 == *b4 && now < e.until {
			m.C.ICMPSuppressed.Add(1)
			return lwaftr.UnknownDrop
		}
		e.b4, e.until = *b4, now+int64(m.cfg.ICMPInterval)
		m.C.ICMPTriggers.Add(1)
		return lwaftr.UnknownDefault
	}
	if e := &m.neg[negSlot(b4)]; e.b4 == *b4 && now < e.until {
		m.C.NegativeHits.Add(1)
		return lwaftr.UnknownDrop
	}
	if i, ok := m.pendIdx[*b4]; ok {
		m.hold(&m.pend[i], p)
		return lwaftr.UnknownTaken
	}
	if len(m.free) == 0 {
		m.C.PendingFull.Add(1)
		return lwaftr.UnknownDrop
	}
	// Token bucket on validations.
	m.tokens = min(m.cfg.QueryBurst, m.tokens+float64(now-m.tokAt)*m.cfg.QueryRate/1e9)
	m.tokAt = now
	if m.tokens < 1 {
		m.C.RateLimited.Add(1)
		return lwaftr.UnknownDrop
	}
	m.tokens--
	i := m.free[len(m.free)-1]
	m.free = m.free[:len(m.free)-1]
	pe := &m.pend[i]
	pe.b4, pe.ipv4, pe.port, pe.n = *b4, ipv4, port, 0
	m.pendIdx[*b4] = i
	m.hold(pe, p)
	m.C.ValidationsAsked.Add(1)
	m.reqs <- request{slot: i, b4: *b4, ipv4: ipv4, port: port} // room for every slot
	return lwaftr.UnknownTaken
}

// inboundHold bounds the Internet packets held between two Polls.
const inboundHold = 64

// UnknownDestination implements lwaftr.UnknownSource: in data-packet-
// trigger mode an Internet packet to an address and port the store's
// cache has a binding for creates that binding (a B4 whose traffic after
// the failover starts from outside would otherwise never be taken over)
// and is held until the next Poll installs it. Only the local cache is
// asked, within the validation rate limit; anything else gets the
// engine's default.
func (m *Manager) UnknownDestination(p []byte, ipv4 uint32, port uint16) lwaftr.UnknownVerdict {
	if m.inPoll || m.cfg.Mode != DataPacketTrigger || m.lookup == nil || m.outOfService.Load() {
		return lwaftr.UnknownDefault
	}
	m.C.InboundUnknown.Add(1)
	if m.inN == inboundHold || len(p) > holdBytes {
		return lwaftr.UnknownDefault
	}
	now := m.cfg.Now().UnixNano()
	m.tokens = min(m.cfg.QueryBurst, m.tokens+float64(now-m.tokAt)*m.cfg.QueryRate/1e9)
	m.tokAt = now
	if m.tokens < 1 {
		m.C.RateLimited.Add(1)
		return lwaftr.UnknownDrop
	}
	m.tokens--
	b, ok := m.lookup.Lookup(ipv4, port)
	if !ok {
		return lwaftr.UnknownDefault
	}
	m.C.InboundValidated.Add(1)
	m.inBind = append(m.inBind, b)
	m.inLens[m.inN] = copy(m.inPkts[m.inN], p)
	m.inN++
	m.C.InboundHeld.Add(1)
	return lwaftr.UnknownTaken
}

func (m *Manager) hold(pe *pending, p []byte) {
	if pe.n == len(pe.pkts) || len(p) > holdBytes {
		m.C.QueueDrops.Add(1)
		return
	}
	pe.lens[pe.n] = copy(pe.pkts[pe.n], p)
	pe.n++
	m.C.Queued.Add(1)
}

// Poll implements lwaftr.UnknownSource: applies validation answers,
// provisioned bindings and removals by the store, and expires dynamic
// bindings, a few per call.
func (m *Manager) Poll(e *lwaftr.Engine) {
	m.inPoll = true
	defer func() { m.inPoll = false }()
	m.releaseWaiting(e)
	for {
		select {
		case r := <-m.results:
			m.answer(e, r)
			continue
		default:
		}
		break
	}
	if len(m.inBind) > 0 {
		now := m.cfg.Now()
		for _, b := range m.inBind {
			if sw, ok := e.Table().Get(b.IPv4, b.PSID); ok && sw.B4 == b.B4 {
				continue // installed by an earlier packet of this Poll
			}
			m.install(e, DynamicBinding{Binding: b, Origin: Validated, Created: now, Renewed: now})
		}
		m.inBind = m.inBind[:0]
		for i := range m.inN {
			m.C.Released.Add(1)
			e.Redeliver4(m.inPkts[i][:m.inLens[i]])
		}
		m.inN = 0
	}
	m.mu.Lock()
	prov, gone, learnt := m.provisioned, m.storeGone, m.learnt
	m.provisioned, m.storeGone, m.learnt = nil, nil, nil
	m.mu.Unlock()
	for _, d := range prov {
		m.install(e, d)
	}
	for _, ev := range gone {
		m.storeEvent(e, ev)
	}
	now := m.cfg.Now()
	for _, b := range learnt {
		// A B4 we sent the ICMPv6 trigger to has provisioned again and
		// the provisioning system wrote its binding.
		if m.icmp[negSlot(&b.B4)].b4 == b.B4 {
			m.install(e, DynamicBinding{Binding: b, Origin: Reprovisioned, Created: now, Renewed: now})
		}
	}
	m.expire(e, 32)
}

func (m *Manager) freeSlot(slot int32) {
	pe := &m.pend[slot]
	delete(m.pendIdx, pe.b4)
	pe.n = 0
	m.free = append(m.free, slot)
}

// visible reports whether the engine's table has b.
func visible(e *lwaftr.Engine, b bindstore.Binding) bool {
	sw, ok := e.Table().Get(b.IPv4, b.PSID)
	return ok && sw.B4 == b.B4 && sw.BR == b.BR
}

func (m *Manager) redeliver(e *lwaftr.Engine, pe *pending) {
	for j := range pe.n {
		m.C.Released.Add(1)
		e.Redeliver(pe.pkts[j][:pe.lens[j]])
	}
}

// releaseWaiting redelivers the held packets of B4s whose binding the
// shared table now shows, and drops those that waited too long.
func (m *Manager) releaseWaiting(e *lwaftr.Engine) {
	if len(m.waiting) == 0 {
		return
	}
	now := m.cfg.Now().UnixNano()
	keep := m.waiting[:0]
	for _, w := range m.waiting {
		pe := &m.pend[w.slot]
		switch {
		case visible(e, w.b):
			m.redeliver(e, pe)
		case now > w.until:
			m.C.QueueDrops.Add(uint64(pe.n))
		default:
			keep = append(keep, w)
			continue
		}
		m.freeSlot(w.slot)
	}
	m.waiting = keep
}

func (m *Manager) answer(e *lwaftr.Engine, r result) {
	pe := &m.pend[r.slot]
	now := m.cfg.Now()
	if r.err == nil && r.res == bindstore.Valid {
		m.C.ValidationsOK.Add(1)
		if m.install(e, DynamicBinding{Binding: r.b, Origin: Validated, Created: now, Renewed: now}) {
			if !visible(e, r.b) {
				// A shared table shows it after its writer's update.
				m.waiting = append(m.waiting, waitingSlot{slot: r.slot, b: r.b, until: now.UnixNano() + int64(visibleWithin)})
				return
			}
			m.redeliver(e, pe)
			m.freeSlot(r.slot)
			return
		}
	} else {
		m.C.ValidationsFailed.Add(1)
		ttl := m.cfg.NegativeTTL
		if r.err != nil {
			m.C.StoreUnreachable.Add(1)
			ttl = m.cfg.UnreachableTTL
		}
		n := &m.neg[negSlot(&pe.b4)]
		n.b4, n.until = pe.b4, now.UnixNano()+int64(ttl)
		m.log.Debug("unknown b4 refused", "b4", netip.AddrFrom16(pe.b4), "ipv4", fmtIPv4(pe.ipv4), "port", pe.port, "result", r.res.String(), "err", r.err)
	}
	m.C.QueueDrops.Add(uint64(pe.n))
	m.freeSlot(r.slot)
}

func key(ipv4 uint32, psid uint16) uint64 { return uint64(ipv4)<<16 | uint64(psid) }

// install puts a dynamic binding into the engine's table.
func (m *Manager) install(e *lwaftr.Engine, d DynamicBinding) bool {
	k := key(d.Binding.IPv4, d.Binding.PSID)
	if d.Origin == Provisioned && m.icmp[negSlot(&d.Binding.B4)].b4 == d.Binding.B4 {
		d.Origin = Reprovisioned
	}
	m.mu.Lock()
	old, had := m.dyn[k]
	full := !had && len(m.dyn) >= m.cfg.MaxDynamic
	m.mu.Unlock()
	if full {
		m.C.MaxDynamicDrops.Add(1)
		return false
	}
	if !had {
		// A configured softwire of the same key stays as configured.
		if sw, ok := e.Table().Get(d.Binding.IPv4, d.Binding.PSID); ok && sw.B4 == d.Binding.B4 && sw.BR == d.Binding.BR {
			return true
		}
	}
	add := e.AddBinding
	if m.cfg.Table != nil {
		add = m.cfg.Table.Add
	}
	if err := add(d.Binding); err != nil {
		m.C.InstallErrors.Add(1)
		m.log.Warn("dynamic binding refused by the table", "ipv4", fmtIPv4(d.Binding.IPv4), "psid", d.Binding.PSID, "err", err)
		return false
	}
	m.mu.Lock()
	if had {
		old.Binding, old.Renewed = d.Binding, d.Renewed
		if d.Lease != 0 {
			old.Lease = d.Lease
		}
		m.mu.Unlock()
		return true
	}
	nd := d
	m.dyn[k] = &nd
	m.order = append(m.order, k)
	m.mu.Unlock()
	m.C.Created.Add(1)
	m.log.Info("binding created", "ipv4", fmtIPv4(d.Binding.IPv4), "psid", d.Binding.PSID,
		"b4-ipv6", netip.AddrFrom16(d.Binding.B4), "reason", d.Origin.String())
	if m.cfg.OnCreated != nil {
		m.cfg.OnCreated(nd)
	}
	return true
}

func (m *Manager) remove(e *lwaftr.Engine, k uint64, reason string) {
	m.mu.Lock()
	d, ok := m.dyn[k]
	if ok {
		delete(m.dyn, k)
	}
	m.mu.Unlock()
	if !ok {
		return
	}
	if m.cfg.Table != nil {
		m.cfg.Table.Remove(d.Binding.IPv4, d.Binding.PSID)
	} else if sw, ok := e.Table().Get(d.Binding.IPv4, d.Binding.PSID); ok && sw.B4 == d.Binding.B4 {
		e.RemoveBinding(d.Binding.IPv4, d.Binding.PSID)
	}
	m.C.Removed.Add(1)
	m.log.Info("binding removed", "ipv4", fmtIPv4(d.Binding.IPv4), "psid", d.Binding.PSID,
		"b4-ipv6", netip.AddrFrom16(d.Binding.B4), "reason", reason)
	if m.cfg.OnRemoved != nil {
		m.cfg.OnRemoved(*d, reason)
	}
}

// storeEvent follows the store: a dynamic binding whose key went away
// (lease expired, deleted) or now names another B4 is removed.
func (m *Manager) storeEvent(e *lwaftr.Engine, ev bindstore.Event) {
	k := key(ev.Binding.IPv4, ev.Binding.PSID)
	m.mu.Lock()
	d, ok := m.dyn[k]
	m.mu.Unlock()
	if !ok {
		return
	}
	switch {
	case ev.Kind == bindstore.Removed && d.Binding.B4 == ev.Binding.B4:
		reason := "revoked"
		if ev.Lease != 0 {
			reason = "expired"
		}
		m.remove(e, k, reason)
	case ev.Kind == bindstore.Installed && d.Binding.B4 != ev.Binding.B4:
		m.remove(e, k, "revoked")
	}
}

// expire removes up to n dynamic bindings not renewed within Lifetime,
// walking them round-robin so each Poll does a bounded amount of work.
func (m *Manager) expire(e *lwaftr.Engine, n int) {
	now := m.cfg.Now()
	for ; n > 0 && len(m.order) > 0; n-- {
		if m.scan >= len(m.order) {
			m.scan = 0
		}
		k := m.order[m.scan]
		m.mu.Lock()
		d, ok := m.dyn[k]
		var stale bool
		if ok {
			stale = now.Sub(d.Renewed) >= m.cfg.Lifetime
		}
		m.mu.Unlock()
		if !ok {
			// Removed meanwhile: drop the key from the walk.
			m.order[m.scan] = m.order[len(m.order)-1]
			m.order = m.order[:len(m.order)-1]
			continue
		}
		if stale {
			m.remove(e, k, "expired")
			continue
		}
		m.scan++
	}
}

// StoreEvent is the bindstore OnChange hook: removals and changes of
// bindings reach the engine at its next Poll.
//
// In icmpv6-trigger mode a binding the store installs is also how a B4
// that was sent the trigger comes back: its new provisioning was written
// to the store (by the relaying lwAFTR, or by the provisioning system
// itself), and the binding is installed here if this lwAFTR triggered
// that B4.
func (m *Manager) StoreEvent(ev bindstore.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dyn[key(ev.Binding.IPv4, ev.Binding.PSID)]; ok {
		m.storeGone = append(m.storeGone, ev)
		return
	}
	if m.cfg.Mode == ICMPv6Trigger && ev.Kind == bindstore.Installed && m.C.ICMPTriggers.Load() > 0 {
		if len(m.learnt) < maxLearnt {
			m.learnt = append(m.learnt, ev.Binding)
		} else {
			m.C.LearntDropped.Add(1)
		}
	}
}

// maxLearnt bounds the store's bindings waiting for the next Poll.
const maxLearnt = 1 << 16

// Provisioned records that a B4's provisioning through this lwAFTR
// succeeded (the primary, or a backup after an ICMPv6 trigger): the
// binding is written to the store with a lease of Lifetime (so the other
// lwAFTRs can validate it) and installed here at the next Poll. A renewal
// of the same binding refreshes the lease. It blocks for the store write.
func (m *Manager) Provisioned(ctx context.Context, b bindingtable.Softwire) error {
	now := m.cfg.Now()
	m.mu.Lock()
	cur, had := m.dyn[key(b.IPv4, b.PSID)]
	var lease int64
	if had && cur.Binding == b {
		lease = cur.Lease
	}
	m.mu.Unlock()
	if m.w != nil {
		var err error
		if lease != 0 {
			err = m.w.Refresh(ctx, lease)
		}
		if lease == 0 || err != nil {
			if lease, err = m.w.Create(ctx, b, m.cfg.Lifetime); err != nil {
				return fmt.Errorf("failover: store binding: %w", err)
			}
		}
	}
	m.mu.Lock()
	m.provisioned = append(m.provisioned, DynamicBinding{Binding: b, Origin: Provisioned, Created: now, Renewed: now, Lease: lease})
	m.mu.Unlock()
	return nil
}

// Dynamic returns a copy of the dynamic bindings.
func (m *Manager) Dynamic() []DynamicBinding {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]DynamicBinding, 0, len(m.dyn))
	for _, d := range m.dyn {
		out = append(out, *d)
	}
	return out
}

// DynamicCount is the number of dynamic bindings.
func (m *Manager) DynamicCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.dyn)
}

func fmtIPv4(a uint32) string {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).String()
}
