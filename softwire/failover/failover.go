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
//
// The engine's goroutine does as little as a burst of new B4s allows
// (BenchmarkBurstOfNewB4s): Unknown only queues a request in a local
// list, handed to the workers once per Poll (no channel operation per
// packet), with a wake-up for the workers only when it matters; answers
// come back in one list taken once per Poll; the book of dynamic bindings
// is changed under one lock per Poll and never copied as it grows; the
// log lines and OnCreated/OnRemoved callbacks of a burst run on the
// manager's own goroutine (the keeper), which also sweeps lifetimes and
// renews etcd leases. With a shared table (Config.Table) the bindings
// are added by the table's writer, a batch per left-right swap, and the
// held packets are released oldest first, looking only at those whose
// binding may be visible.
//
// A dynamic binding's lifetime runs from its last use: the engine marks
// every binding it forwards through in a bitmap it alone writes
// (lwaftr.UseMarks); at each sweep the keeper takes the bitmap of the
// last period (the engine swaps in a clean one at its next Poll), stamps
// the bindings found in it as used, renews their etcd leases in one batch
// (KeepAliveOnce per lease, per sweep, never per packet), and has the
// engine remove those idle for a whole lifetime. Their leases are left to
// expire, not revoked: another lwAFTR of the set may be the one the B4's
// traffic reaches now, and it keeps the same lease alive while it uses
// the binding.
package failover

import (
	"context"
	"encoding/binary"
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
	// binding stays without carrying traffic or being provisioned again
	// (default 2 h).
	Lifetime time.Duration
	// SweepInterval is how often the keeper looks at which bindings were
	// used, renews their leases and expires the idle ones (default
	// Lifetime/8, within 10 ms and 5 min): an idle binding goes between
	// one lifetime and about two sweeps more after its last packet.
	SweepInterval time.Duration
	// UseBits bounds the engine's use bitmap (default 1<<23 bits, 1 MiB;
	// two per manager). The bitmap is sized to 16 bits per binding of
	// the table (at least 1<<16 bits), resized by the keeper between
	// sweeps: small enough to stay in the cache of the forwarding core,
	// large enough that a bit shared with a used binding keeps an idle
	// one for another sweep with a chance of at most about 1/16 per
	// sweep.
	UseBits int
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
	// QueryTimeout bounds the validations a worker takes at once (up
	// to 16, a single one unless many B4s wait; default 1 s).
	QueryTimeout time.Duration
	// Workers validating in parallel (default 4).
	Workers int
	Log     *slog.Logger
	// OnCreated and OnRemoved, when set, are called for each dynamic
	// binding, one call at a time and in the order of the changes: on
	// the engine's goroutine at the end of Poll for a few changes, from
	// the manager's keeper goroutine for a burst (off the packet path).
	// They must not block.
	OnCreated func(DynamicBinding)
	OnRemoved func(DynamicBinding, string)
	// Now is the clock (tests).
	Now func() time.Time
	// Group, when set, is shared by the managers of all the workers of
	// one lwAFTR, so that traffic through any worker keeps a binding
	// alive (see Group).
	Group *Group
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

// LeaseKeeper keeps the etcd leases of dynamic bindings in use
// (bindstore.Store), found on the Writer or else the Validator: used
// bindings' leases are renewed once per sweep.
type LeaseKeeper interface {
	// LeaseOf is the lease of the store's binding (ipv4, psid).
	LeaseOf(ipv4 uint32, psid uint16) (int64, bool)
	// KeepAlive renews each lease once; it returns how many were
	// renewed, those etcd does not have, and another error if any.
	KeepAlive(ctx context.Context, leases []int64) (int, []int64, error)
}

// DynamicBinding is one binding the Manager created.
type DynamicBinding struct {
	Binding bindstore.Binding
	Origin  Origin
	Created time.Time
	// Renewed is when it was last provisioned or validated again.
	Renewed time.Time
	// LastUsed is the sweep that last found it carrying traffic (zero:
	// not yet); the lifetime runs from the later of Renewed and LastUsed.
	LastUsed time.Time
	Lease    int64
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
	Sweeps            atomic.Uint64 // lifetime sweeps done
	UsedSeen          atomic.Uint64 // dynamic bindings a sweep found used
	LeasesRenewed     atomic.Uint64 // etcd leases of used bindings renewed
	LeaseErrors       atomic.Uint64 // lease renewals etcd did not answer
	StoreDeferred     atomic.Uint64 // provisioned while the store refused the write: forwarded, written later
	StoreCaughtUp     atomic.Uint64 // deferred bindings written once the store answered
}

// hotCounts are the counts of the packet path, kept in memory only the
// engine's goroutine writes and added to Counters once per Poll: no
// atomic operation per packet.
type hotCounts struct {
	unknown          uint64
	notAnycast       uint64
	queued           uint64
	released         uint64
	queueDrops       uint64
	asked            uint64
	rateLimited      uint64
	pendingFull      uint64
	negativeHits     uint64
	icmpTriggers     uint64
	icmpSuppressed   uint64
	inboundUnknown   uint64
	inboundHeld      uint64
	inboundValidated uint64
}

// publishCounts adds the packet path's counts to C.
func (m *Manager) publishCounts() {
	h := &m.hot
	for _, c := range [...]struct {
		n *uint64
		c *atomic.Uint64
	}{{&h.unknown, &m.C.Unknown}, {&h.notAnycast, &m.C.NotAnycast}, {&h.queued, &m.C.Queued}, {&h.released, &m.C.Released},
		{&h.queueDrops, &m.C.QueueDrops}, {&h.asked, &m.C.ValidationsAsked}, {&h.rateLimited, &m.C.RateLimited},
		{&h.pendingFull, &m.C.PendingFull}, {&h.negativeHits, &m.C.NegativeHits}, {&h.icmpTriggers, &m.C.ICMPTriggers},
		{&h.icmpSuppressed, &m.C.ICMPSuppressed}, {&h.inboundUnknown, &m.C.InboundUnknown}, {&h.inboundHeld, &m.C.InboundHeld},
		{&h.inboundValidated, &m.C.InboundValidated}} {
		if *c.n != 0 {
			c.c.Add(*c.n)
			*c.n = 0
		}
	}
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
	reqBuf  []request // asked since the last Poll
	// queued requests were handed over without a wake-up since queuedAt.
	queued   int
	queuedAt int64
	inFlight int      // requests asked and not answered
	resBuf   []result // answers being applied
	notes    []note   // for the keeper, handed over at the end of Poll
	lookup   CacheLookup
	leases   LeaseKeeper
	// marks is what the engine marks now; markEpoch the sweep epoch it
	// belongs to; marked whether the engine was given it.
	marks     *lwaftr.UseMarks
	markEpoch uint64
	marked    bool
	seed      uint64
	// waiting: validated B4s whose held packets wait for the shared
	// table to show their binding (Config.Table), with a deadline.
	waiting  []waitingSlot
	waitHead int // waiting[:waitHead] are done
	// inbound: bindings found for Internet packets, and those packets,
	// applied at the next Poll.
	inBind []bindstore.Binding
	inPkts [][]byte
	inLens []int
	inN    int

	// qmu guards the requests for the workers (a ring with room for one
	// per pending slot) and their answers; wake tells a worker.
	qmu      sync.Mutex
	reqRing  []request
	reqHead  int
	reqN     int
	resQ     []result
	resReady atomic.Bool
	wake     chan struct{}

	// nmu guards the notes for the keeper and delivering (a goroutine
	// is calling back); noteWake tells the keeper.
	nmu        sync.Mutex
	noteQ      []note
	delivering bool
	noteWake   chan struct{}

	// epoch is the sweep count: the engine hands its marks in when it
	// changes.
	epoch atomic.Uint64

	// mu guards the book of dynamic bindings, the marks handed in and
	// the spare, and the queues filled from other goroutines.
	mu          sync.Mutex
	dyn         book
	handed      *lwaftr.UseMarks
	spare       *lwaftr.UseMarks
	wantBits    int // size for the next spare, from the table's size
	expiredQ    []uint64
	expReady    atomic.Bool
	provisioned []DynamicBinding
	// unstored are provisioned bindings the store did not take, written
	// again at each sweep until it does (at most maxUnstored).
	unstored  []unstoredBinding
	storeGone []bindstore.Event
	// learnt: bindings the store installed while ICMPv6 triggers were
	// out, checked at Poll against the B4s triggered.
	learnt []bindstore.Binding

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	outOfService atomic.Bool

	hot hotCounts

	C Counters
}

// SetInService says whether this lwAFTR serves the anycast address. Out
// of service (shutting down, data plane not forwarding) it takes over no
// B4: unknown sources are dropped without validation or ICMPv6 error,
// while the network moves the anycast route away.
func (m *Manager) SetInService(in bool) { m.outOfService.Store(!in) }

// InService reports what SetInService last said (true at start).
func (m *Manager) InService() bool { return !m.outOfService.Load() }

// note is a change the keeper logs and calls back about.
type note struct {
	d       dynEntry
	removed bool
	reason  string
}

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
	def(&cfg.SweepInterval, min(max(cfg.Lifetime/8, 10*time.Millisecond), 5*time.Minute))
	def(&cfg.NegativeTTL, 5*time.Second)
	def(&cfg.UnreachableTTL, time.Second)
	def(&cfg.ICMPInterval, time.Second)
	def(&cfg.QueryTimeout, time.Second)
	if cfg.UseBits <= 0 {
		cfg.UseBits = 1 << 23
	}
	cfg.UseBits = max(cfg.UseBits, minUseBits)
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
		reqBuf: make([]request, 0, cfg.MaxPending), resBuf: make([]result, 0, cfg.MaxPending),
		reqRing: make([]request, cfg.MaxPending), resQ: make([]result, 0, cfg.MaxPending),
		wake: make(chan struct{}, cfg.Workers), noteWake: make(chan struct{}, 1),
		tokens: cfg.QueryBurst, tokAt: cfg.Now().UnixNano(),
		dyn: newBook(min(cfg.MaxDynamic, 1<<15)), ctx: ctx, cancel: cancel,
		seed: uint64(time.Now().UnixNano()) * 0x9e3779b97f4a7c15}
	// The held packets' buffers are one slab, written once here so that
	// the first burst does not take its page faults on the packet path.
	slab := make([]byte, cfg.MaxPending*cfg.QueueDepth*holdBytes)
	for i := 0; i < len(slab); i += 4096 {
		slab[i] = 0
	}
	for i := range m.pend {
		p := &m.pend[i]
		p.lens = make([]int, cfg.QueueDepth)
		p.pkts = make([][]byte, cfg.QueueDepth)
		for j := range p.pkts {
			p.pkts[j], slab = slab[:holdBytes:holdBytes], slab[holdBytes:]
		}
		m.free = append(m.free, int32(i))
	}
	if cl, ok := v.(CacheLookup); ok {
		m.lookup = cl
	}
	if lk, ok := w.(LeaseKeeper); ok {
		m.leases = lk
	} else if lk, ok := v.(LeaseKeeper); ok {
		m.leases = lk
	}
	m.inPkts, m.inLens = make([][]byte, inboundHold), make([]int, inboundHold)
	for i := range m.inPkts {
		m.inPkts[i] = make([]byte, holdBytes)
	}
	m.inBind = make([]bindstore.Binding, 0, inboundHold)
	if cfg.Mode != None {
		m.marks, m.spare = lwaftr.NewUseMarks(minUseBits), lwaftr.NewUseMarks(minUseBits)
		m.wantBits = minUseBits
		m.marks.Seed = m.seed
	}
	if cfg.Mode == DataPacketTrigger {
		for range cfg.Workers {
			m.wg.Add(1)
			go m.worker()
		}
	}
	m.wg.Add(1)
	go m.keeper()
	if cfg.Group != nil {
		cfg.Group.join(m)
	}
	return m, nil
}

// Close stops the workers and the keeper (which first delivers the
// notes still waiting), and leaves the group.
func (m *Manager) Close() {
	if m.cfg.Group != nil {
		m.cfg.Group.leave(m)
	}
	m.cancel()
	m.wg.Wait()
}

// Mode returns the mechanism in use.
func (m *Manager) Mode() Mode { return m.cfg.Mode }

// workerChunk is how many requests a worker takes at once: small, so a
// few slow cache misses (etcd round trips) do not hold up many others.
const workerChunk = 16

func (m *Manager) worker() {
	defer m.wg.Done()
	var reqs [workerChunk]request
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.wake:
		}
		for {
			m.qmu.Lock()
			n := min(m.reqN, workerChunk)
			for i := range n {
				reqs[i] = m.reqRing[(m.reqHead+i)%len(m.reqRing)]
			}
			m.reqHead, m.reqN = (m.reqHead+n)%len(m.reqRing), m.reqN-n
			more := m.reqN > 0
			m.qmu.Unlock()
			if n == 0 {
				break
			}
			if more {
				// Let another worker take the rest meanwhile.
				select {
				case m.wake <- struct{}{}:
				default:
				}
			}
			var res [workerChunk]result
			// One deadline for the chunk: validations are cache hits in
			// the common case, and a context per validation was most of
			// what a burst allocated.
			ctx, cancel := context.WithTimeout(m.ctx, m.cfg.QueryTimeout)
			for i, r := range reqs[:n] {
				b, rs, err := m.v.Validate(ctx, r.b4, r.ipv4, r.port)
				res[i] = result{slot: r.slot, b: b, res: rs, err: err}
			}
			cancel()
			m.qmu.Lock()
			// resQ has room for every pending slot: never grows.
			m.resQ = append(m.resQ, res[:n]...)
			m.qmu.Unlock()
			m.resReady.Store(true)
		}
	}
}

// wakeAfter is how long requests may wait for a wake-up while others
// are being validated.
const wakeAfter = 200 * time.Microsecond

// handRequests gives the requests of the last batch to the workers: one
// lock per Poll, and a wake-up only when it matters. Waking a parked
// goroutine costs the engine's thread a futex call and a reschedule, so
// during a burst (validations in flight) the requests of several Polls
// are woken for together, once a worker's chunk is waiting or the oldest
// has waited wakeAfter; the first request after a quiet spell is woken
// for at once.
func (m *Manager) handRequests() {
	if len(m.reqBuf) == 0 && m.queued == 0 {
		return
	}
	m.qmu.Lock()
	for _, r := range m.reqBuf {
		// Room for one request per pending slot.
		m.reqRing[(m.reqHead+m.reqN)%len(m.reqRing)] = r
		m.reqN++
	}
	m.qmu.Unlock()
	now := m.cfg.Now().UnixNano()
	if m.queued == 0 {
		m.queuedAt = now
	}
	m.queued += len(m.reqBuf)
	m.reqBuf = m.reqBuf[:0]
	if m.inFlight > m.queued && m.queued < workerChunk && now-m.queuedAt < int64(wakeAfter) {
		return
	}
	m.queued = 0
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// takeResults swaps the workers' answers into resBuf.
func (m *Manager) takeResults() {
	if !m.resReady.Load() {
		return
	}
	m.qmu.Lock()
	m.resBuf, m.resQ = m.resQ, m.resBuf[:0]
	m.resReady.Store(false)
	m.qmu.Unlock()
	m.inFlight -= len(m.resBuf)
}

// handNotes gives the keeper the changes of this Poll.
//
// A few changes with nothing queued before them are delivered here, on
// the engine's goroutine, as they always were (an isolated provisioning
// or takeover costs one callback); a burst goes to the keeper, so its
// logging and notifications never run on the forwarding path. Either way
// the callbacks are made one at a time, in order.
func (m *Manager) handNotes() {
	if len(m.notes) == 0 {
		return
	}
	m.nmu.Lock()
	if len(m.notes) <= logPerBinding && len(m.noteQ) == 0 && !m.delivering {
		m.delivering = true
		m.nmu.Unlock()
		m.deliverNotes(m.notes)
		m.nmu.Lock()
		m.delivering = false
		again := len(m.noteQ) > 0
		m.nmu.Unlock()
		clear(m.notes)
		m.notes = m.notes[:0]
		if again {
			m.wakeKeeper()
		}
		return
	}
	m.noteQ = append(m.noteQ, m.notes...)
	m.nmu.Unlock()
	clear(m.notes)
	m.notes = m.notes[:0]
	m.wakeKeeper()
}

func (m *Manager) wakeKeeper() {
	select {
	case m.noteWake <- struct{}{}:
	default:
	}
}

// handMarks gives the keeper the engine's use marks of the period that
// ended, and the engine a clean set, once per sweep epoch.
func (m *Manager) handMarks(e *lwaftr.Engine) {
	if m.marks == nil {
		return
	}
	if !m.marked {
		e.SetUseMarks(m.marks)
		m.marked = true
	}
	ep := m.epoch.Load()
	if ep == m.markEpoch {
		return
	}
	m.mu.Lock()
	if m.spare != nil && m.handed == nil {
		m.handed, m.marks, m.spare = m.marks, m.spare, nil
		m.wantBits = m.useBitsFor(e.Table().Len())
		m.marks.Seed = m.seed ^ ep*0xbf58476d1ce4e5b9
		e.SetUseMarks(m.marks)
		m.markEpoch = ep
	}
	m.mu.Unlock()
}

// minUseBits is the smallest use bitmap: 8 KiB.
const minUseBits = 1 << 16

// useBitsFor is the use bitmap size for a table of n bindings.
func (m *Manager) useBitsFor(n int) int {
	b := minUseBits
	for b < 16*n && b < m.cfg.UseBits {
		b <<= 1
	}
	return b
}

// keeper is the manager's own goroutine: log lines and callbacks of the
// changes, lifetime sweeps and lease renewals.
func (m *Manager) keeper() {
	defer m.wg.Done()
	tick := time.NewTicker(m.cfg.SweepInterval)
	defer tick.Stop()
	var notes []note
	for {
		select {
		case <-m.ctx.Done():
			m.deliver(notes)
			return
		case <-m.noteWake:
			notes = m.deliver(notes)
		case <-tick.C:
			notes = m.deliver(notes)
			m.sweep()
		}
	}
}

// logPerBinding is how many changes of one delivery get a log line each
// at the info level.
const logPerBinding = 16

// deliver logs and calls back about the waiting notes; buf is reused.
func (m *Manager) deliver(buf []note) []note {
	m.nmu.Lock()
	if m.delivering {
		// The engine is delivering a few; it wakes us if more came.
		m.nmu.Unlock()
		return buf
	}
	buf, m.noteQ = m.noteQ, buf[:0]
	m.delivering = len(buf) > 0
	m.nmu.Unlock()
	if len(buf) == 0 {
		return buf
	}
	m.deliverNotes(buf)
	m.nmu.Lock()
	m.delivering = false
	m.nmu.Unlock()
	clear(buf)
	return buf[:0]
}

// deliverNotes logs and calls back about buf; only one goroutine at a
// time (the one that set delivering).
func (m *Manager) deliverNotes(buf []note) {
	// A burst is logged by its first few bindings and a count: a line
	// per binding of 100,000 says nothing more (the notifications still
	// name each; the rest go to the debug level).
	var created, removed int
	debug := m.log.Enabled(context.Background(), slog.LevelDebug)
	for i, n := range buf {
		d := n.d.public()
		level := slog.LevelInfo
		if i >= logPerBinding {
			level = slog.LevelDebug
		}
		logIt := level == slog.LevelInfo || debug
		if n.removed {
			removed++
			if logIt {
				m.log.Log(context.Background(), level, "binding removed", "ipv4", fmtIPv4(d.Binding.IPv4), "psid", d.Binding.PSID,
					"b4-ipv6", netip.AddrFrom16(d.Binding.B4), "reason", n.reason)
			}
			if m.cfg.OnRemoved != nil {
				m.cfg.OnRemoved(d, n.reason)
			}
			continue
		}
		created++
		if logIt {
			m.log.Log(context.Background(), level, "binding created", "ipv4", fmtIPv4(d.Binding.IPv4), "psid", d.Binding.PSID,
				"b4-ipv6", netip.AddrFrom16(d.Binding.B4), "reason", d.Origin.String())
		}
		if m.cfg.OnCreated != nil {
			m.cfg.OnCreated(d)
		}
	}
	if len(buf) > logPerBinding {
		m.log.Info("dynamic bindings changed", "created", created, "removed", removed, "logged-each", logPerBinding)
	}
}

// sweepChunk bounds the bindings a sweep looks at per hold of the lock,
// so an engine's Poll never waits long for it.
const sweepChunk = 4096

// stamp marks the bindings of m's book that h shows used, appending them
// to used; with own (m's keeper), it also queues the idle ones for
// removal at the engine's next Poll. Expiries queued by the last sweep
// and not yet applied (the engine has not polled since) are not queued
// again.
func (m *Manager) stamp(h *lwaftr.UseMarks, now int64, own bool, used []usedLease) []usedLease {
	life := int64(m.cfg.Lifetime)
	queueStale := own && !m.expReady.Load()
	var stale int
	for i := 0; ; i += sweepChunk {
		m.mu.Lock()
		if i >= m.dyn.len() {
			m.mu.Unlock()
			break
		}
		for j := i; j < min(i+sweepChunk, m.dyn.len()); j++ {
			d := m.dyn.at(j)
			if h != nil && h.Has(&d.b.B4, d.b.IPv4) {
				d.lastUsed = now
				m.C.UsedSeen.Add(1)
				used = append(used, usedLease{d.b.IPv4, d.b.PSID, d.lease})
				continue
			}
			if queueStale && now-d.lastActive() >= life {
				m.expiredQ = append(m.expiredQ, key(d.b.IPv4, d.b.PSID))
				stale++
			}
		}
		m.mu.Unlock()
	}
	if stale > 0 {
		m.expReady.Store(true)
	}
	return used
}

// Group is the failover managers of one lwAFTR's workers (one manager
// per engine, the engines sharing one table). A binding one manager
// created may carry traffic through another's engine (the kernel spreads
// a B4's flows, and the Internet's replies, over the workers), so each
// manager's sweep looks for its engine's use marks in the books of every
// member. Without a Group a manager sees only its own engine's traffic.
type Group struct {
	mu      sync.Mutex
	members []*Manager
}

// NewGroup returns an empty group; managers join it through
// Config.Group and leave it at Close.
func NewGroup() *Group { return &Group{} }

func (g *Group) join(m *Manager) {
	g.mu.Lock()
	g.members = append(g.members, m)
	g.mu.Unlock()
}

func (g *Group) leave(m *Manager) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, o := range g.members {
		if o == m {
			g.members = append(g.members[:i], g.members[i+1:]...)
			return
		}
	}
}

func (g *Group) others(m *Manager) []*Manager {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*Manager, 0, len(g.members))
	for _, o := range g.members {
		if o != m {
			out = append(out, o)
		}
	}
	return out
}

type usedLease struct {
	ipv4  uint32
	psid  uint16
	lease int64
}

// sweep stamps the bindings the engine's last marks show as used, renews
// their leases, and queues the idle ones for removal at the next Poll
// (their leases are let expire).
func (m *Manager) sweep() {
	defer m.C.Sweeps.Add(1)
	defer m.epoch.Add(1) // the engine hands in its marks at its next Poll
	m.mu.Lock()
	h := m.handed
	m.handed = nil
	m.mu.Unlock()
	now := m.cfg.Now().UnixNano()
	var used []usedLease
	if h != nil && m.cfg.Group != nil {
		// Traffic of another member's bindings through this engine.
		for _, o := range m.cfg.Group.others(m) {
			used = o.stamp(h, now, false, used)
		}
	}
	used = m.stamp(h, now, true, used)
	if h != nil {
		h.Clear()
		m.mu.Lock()
		if want := m.wantBits; h.Bits() != want {
			// The table grew or shrank: the next set is sized to it
			// (allocated here, off the packet path).
			m.mu.Unlock()
			h = lwaftr.NewUseMarks(want)
			m.mu.Lock()
		}
		m.spare = h
		m.mu.Unlock()
	}
	m.writeUnstored()
	if m.leases == nil {
		return
	}
	var renew []int64
	seen := make(map[int64]bool, len(used))
	for _, u := range used {
		// The store's current lease of the binding: a binding validated
		// here has the lease of the lwAFTR that wrote it.
		if l, ok := m.leases.LeaseOf(u.ipv4, u.psid); ok {
			u.lease = l
		}
		if u.lease != 0 && !seen[u.lease] {
			seen[u.lease] = true
			renew = append(renew, u.lease)
		}
	}
	if len(renew) > 0 {
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.SweepInterval+m.cfg.QueryTimeout)
		n, gone, err := m.leases.KeepAlive(ctx, renew)
		cancel()
		m.C.LeasesRenewed.Add(uint64(n))
		if err != nil {
			m.C.LeaseErrors.Add(uint64(len(renew) - n - len(gone)))
			m.log.Warn("dynamic binding leases not renewed", "renewed", n, "of", len(renew), "err", err)
		}
	}
}

func negSlot(b4 *[16]byte) uint32 {
	// Two multiplies, not a loop over the bytes: this runs for every
	// packet of an unknown source.
	h := (binary.LittleEndian.Uint64(b4[0:8]) ^ 0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	h = (h ^ binary.LittleEndian.Uint64(b4[8:16])) * 0x94d049bb133111eb
	return uint32(h>>40) & (negSize - 1)
}

// Unknown implements lwaftr.UnknownSource.
func (m *Manager) Unknown(p []byte, ipv4 uint32, port uint16) lwaftr.UnknownVerdict {
	if m.inPoll || m.cfg.Mode == None {
		return lwaftr.UnknownDefault
	}
	if string(p[24:40]) != string(m.cfg.Anycast[:]) {
		m.hot.notAnycast++
		return lwaftr.UnknownDefault
	}
	m.hot.unknown++
	if m.outOfService.Load() {
		return lwaftr.UnknownDrop
	}
	b4 := (*[16]byte)(p[8:24])
	now := m.cfg.Now().UnixNano()
	if m.cfg.Mode == ICMPv6Trigger {
		e := &m.icmp[negSlot(b4)]
		if e.b4 == *b4 && now < e.until {
			m.hot.icmpSuppressed++
			return lwaftr.UnknownDrop
		}
		e.b4, e.until = *b4, now+int64(m.cfg.ICMPInterval)
		m.hot.icmpTriggers++
		return lwaftr.UnknownDefault
	}
	if e := &m.neg[negSlot(b4)]; e.b4 == *b4 && now < e.until {
		m.hot.negativeHits++
		return lwaftr.UnknownDrop
	}
	if i, ok := m.pendIdx[*b4]; ok {
		m.hold(&m.pend[i], p)
		return lwaftr.UnknownTaken
	}
	if len(m.free) == 0 {
		m.hot.pendingFull++
		return lwaftr.UnknownDrop
	}
	// Token bucket on validations.
	m.tokens = min(m.cfg.QueryBurst, m.tokens+float64(now-m.tokAt)*m.cfg.QueryRate/1e9)
	m.tokAt = now
	if m.tokens < 1 {
		m.hot.rateLimited++
		return lwaftr.UnknownDrop
	}
	m.tokens--
	i := m.free[len(m.free)-1]
	m.free = m.free[:len(m.free)-1]
	pe := &m.pend[i]
	pe.b4, pe.ipv4, pe.port, pe.n = *b4, ipv4, port, 0
	m.pendIdx[*b4] = i
	m.hold(pe, p)
	m.hot.asked++
	// Handed to the workers at the next Poll; room for every slot.
	m.reqBuf = append(m.reqBuf, request{slot: i, b4: *b4, ipv4: ipv4, port: port})
	m.inFlight++
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
	m.hot.inboundUnknown++
	if m.inN == inboundHold || len(p) > holdBytes {
		return lwaftr.UnknownDefault
	}
	now := m.cfg.Now().UnixNano()
	m.tokens = min(m.cfg.QueryBurst, m.tokens+float64(now-m.tokAt)*m.cfg.QueryRate/1e9)
	m.tokAt = now
	if m.tokens < 1 {
		m.hot.rateLimited++
		return lwaftr.UnknownDrop
	}
	m.tokens--
	b, ok := m.lookup.Lookup(ipv4, port)
	if !ok {
		return lwaftr.UnknownDefault
	}
	m.hot.inboundValidated++
	m.inBind = append(m.inBind, b)
	m.inLens[m.inN] = copy(m.inPkts[m.inN], p)
	m.inN++
	m.hot.inboundHeld++
	return lwaftr.UnknownTaken
}

func (m *Manager) hold(pe *pending, p []byte) {
	if pe.n == len(pe.pkts) || len(p) > holdBytes {
		m.hot.queueDrops++
		return
	}
	pe.lens[pe.n] = copy(pe.pkts[pe.n], p)
	pe.n++
	m.hot.queued++
}

// Poll implements lwaftr.UnknownSource: hands the new validations to
// the workers, applies their answers, provisioned bindings, removals by
// the store and the keeper's expiries, and swaps the use marks once per
// sweep.
func (m *Manager) Poll(e *lwaftr.Engine) {
	m.inPoll = true
	defer func() { m.inPoll = false }()
	m.handMarks(e)
	m.handRequests()
	m.releaseWaiting(e)
	m.takeResults()
	if len(m.resBuf) > 0 {
		m.mu.Lock()
		for _, r := range m.resBuf {
			m.answerLocked(e, r)
		}
		m.mu.Unlock()
		clear(m.resBuf)
		m.resBuf = m.resBuf[:0]
	}
	if len(m.inBind) > 0 {
		now := m.cfg.Now().UnixNano()
		m.mu.Lock()
		for _, b := range m.inBind {
			if sw, ok := e.Table().Get(b.IPv4, b.PSID); ok && sw.B4 == b.B4 {
				continue // installed by an earlier packet of this Poll
			}
			m.installLocked(e, dynEntry{b: b, origin: Validated, created: now, renewed: now})
		}
		m.mu.Unlock()
		m.inBind = m.inBind[:0]
		for i := range m.inN {
			m.hot.released++
			e.Redeliver4(m.inPkts[i][:m.inLens[i]])
		}
		m.inN = 0
	}
	m.mu.Lock()
	if len(m.provisioned)+len(m.storeGone)+len(m.learnt) > 0 {
		prov, gone, learnt := m.provisioned, m.storeGone, m.learnt
		m.provisioned, m.storeGone, m.learnt = nil, nil, nil
		for _, d := range prov {
			m.installLocked(e, dynEntry{b: d.Binding, origin: d.Origin, created: d.Created.UnixNano(), renewed: d.Renewed.UnixNano(), lease: d.Lease})
		}
		for _, ev := range gone {
			m.storeEventLocked(e, ev)
		}
		now := m.cfg.Now().UnixNano()
		for _, b := range learnt {
			// A B4 we sent the ICMPv6 trigger to has provisioned again and
			// the provisioning system wrote its binding.
			if m.icmp[negSlot(&b.B4)].b4 == b.B4 {
				m.installLocked(e, dynEntry{b: b, origin: Reprovisioned, created: now, renewed: now})
			}
		}
	}
	if m.expReady.Load() {
		m.expReady.Store(false)
		now := m.cfg.Now().UnixNano()
		for _, k := range m.expiredQ {
			// Still idle: not provisioned or validated again meanwhile.
			if d, ok := m.dyn.get(k); ok && now-d.lastActive() >= int64(m.cfg.Lifetime) {
				m.removeLocked(e, k, "expired")
			}
		}
		m.expiredQ = m.expiredQ[:0]
	}
	m.mu.Unlock()
	m.handNotes()
	m.publishCounts()
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
		m.hot.released++
		e.Redeliver(pe.pkts[j][:pe.lens[j]])
	}
}

// releaseWaiting redelivers the held packets of B4s whose binding the
// shared table now shows, and drops those that waited too long. The
// table's writer applies changes in the order they were queued, so the
// waiting list is looked at from its oldest entry and only up to the
// first not yet visible: a Poll costs the bindings it releases, not the
// bindings still waiting (thousands during a burst).
func (m *Manager) releaseWaiting(e *lwaftr.Engine) {
	if m.waitHead == len(m.waiting) {
		return
	}
	now := m.cfg.Now().UnixNano()
	for _, w := range m.waiting[m.waitHead:] {
		pe := &m.pend[w.slot]
		if visible(e, w.b) {
			m.redeliver(e, pe)
		} else if now > w.until {
			m.hot.queueDrops += uint64(pe.n)
		} else {
			break
		}
		m.freeSlot(w.slot)
		m.waitHead++
	}
	if m.waitHead == len(m.waiting) {
		m.waiting, m.waitHead = m.waiting[:0], 0
	} else if m.waitHead >= 1024 && m.waitHead*2 > len(m.waiting) {
		m.waiting = append(m.waiting[:0], m.waiting[m.waitHead:]...)
		m.waitHead = 0
	}
}

func (m *Manager) answerLocked(e *lwaftr.Engine, r result) {
	pe := &m.pend[r.slot]
	now := m.cfg.Now()
	if r.err == nil && r.res == bindstore.Valid {
		m.C.ValidationsOK.Add(1)
		if m.installLocked(e, dynEntry{b: r.b, origin: Validated, created: now.UnixNano(), renewed: now.UnixNano()}) {
			if m.cfg.Table != nil || !visible(e, r.b) {
				// A shared table shows it after its writer's update
				// (never within this Poll: no need to look).
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
	m.hot.queueDrops += uint64(pe.n)
	m.freeSlot(r.slot)
}

func key(ipv4 uint32, psid uint16) uint64 { return uint64(ipv4)<<16 | uint64(psid) }

// install puts a dynamic binding into the engine's table and the book;
// m.mu is held.
func (m *Manager) installLocked(e *lwaftr.Engine, d dynEntry) bool {
	k := key(d.b.IPv4, d.b.PSID)
	if d.origin == Provisioned && m.icmp[negSlot(&d.b.B4)].b4 == d.b.B4 {
		d.origin = Reprovisioned
	}
	old, had := m.dyn.get(k)
	if !had && m.dyn.len() >= m.cfg.MaxDynamic {
		m.C.MaxDynamicDrops.Add(1)
		return false
	}
	if !had {
		// A configured softwire of the same key stays as configured.
		if sw, ok := e.Table().Get(d.b.IPv4, d.b.PSID); ok && sw.B4 == d.b.B4 && sw.BR == d.b.BR {
			return true
		}
	}
	add := e.AddBinding
	if m.cfg.Table != nil {
		add = m.cfg.Table.Add
	}
	if err := add(d.b); err != nil {
		m.C.InstallErrors.Add(1)
		m.log.Warn("dynamic binding refused by the table", "ipv4", fmtIPv4(d.b.IPv4), "psid", d.b.PSID, "err", err)
		return false
	}
	if had {
		old.b, old.renewed = d.b, d.renewed
		if d.lease != 0 {
			old.lease = d.lease
		}
		return true
	}
	m.dyn.add(d)
	m.C.Created.Add(1)
	m.notes = append(m.notes, note{d: d})
	return true
}

// removeLocked takes dynamic binding k out of the table and the book;
// m.mu is held.
func (m *Manager) removeLocked(e *lwaftr.Engine, k uint64, reason string) {
	d, ok := m.dyn.remove(k)
	if !ok {
		return
	}
	if m.cfg.Table != nil {
		m.cfg.Table.Remove(d.b.IPv4, d.b.PSID)
	} else if sw, ok := e.Table().Get(d.b.IPv4, d.b.PSID); ok && sw.B4 == d.b.B4 {
		e.RemoveBinding(d.b.IPv4, d.b.PSID)
	}
	m.C.Removed.Add(1)
	m.notes = append(m.notes, note{d: d, removed: true, reason: reason})
}

// storeEventLocked follows the store: a dynamic binding whose key went
// away (lease expired, deleted) or now names another B4 is removed.
func (m *Manager) storeEventLocked(e *lwaftr.Engine, ev bindstore.Event) {
	k := key(ev.Binding.IPv4, ev.Binding.PSID)
	d, ok := m.dyn.get(k)
	if !ok {
		return
	}
	switch {
	case ev.Kind == bindstore.Removed && d.b.B4 == ev.Binding.B4:
		reason := "revoked"
		if ev.Lease != 0 {
			reason = "expired"
		}
		m.removeLocked(e, k, reason)
	case ev.Kind == bindstore.Installed && d.b.B4 != ev.Binding.B4:
		m.removeLocked(e, k, "revoked")
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
	if _, ok := m.dyn.get(key(ev.Binding.IPv4, ev.Binding.PSID)); ok {
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

// maxUnstored bounds the provisioned bindings waiting for the store.
const maxUnstored = 1 << 16

type unstoredBinding struct {
	b  bindingtable.Softwire
	at int64 // unix nanoseconds of the provisioning
}

// Provisioned records that a B4's provisioning through this lwAFTR
// succeeded (the primary, or a backup after an ICMPv6 trigger): the
// binding is written to the store with a lease of Lifetime (so the other
// lwAFTRs can validate it) and installed here at the next Poll. A renewal
// of the same binding refreshes the lease. It blocks for the store write.
//
// The B4 is provisioned whatever the store says: when the write fails
// (etcd unreachable) the binding is installed all the same, counted in
// StoreDeferred, and written at each sweep until the store takes it, so
// the B4 works at once and the other lwAFTRs learn it once the store is
// back. The error is then nil; it reports only a binding not installed.
func (m *Manager) Provisioned(ctx context.Context, b bindingtable.Softwire) error {
	now := m.cfg.Now()
	m.mu.Lock()
	var lease int64
	if d, had := m.dyn.get(key(b.IPv4, b.PSID)); had && d.b == b {
		lease = d.lease
	}
	m.mu.Unlock()
	if m.w != nil {
		var err error
		if lease != 0 {
			err = m.w.Refresh(ctx, lease)
		}
		if lease == 0 || err != nil {
			if lease, err = m.w.Create(ctx, b, m.cfg.Lifetime); err != nil {
				lease = 0
				m.mu.Lock()
				full := len(m.unstored) >= maxUnstored
				if !full {
					m.unstored = append(m.unstored, unstoredBinding{b: b, at: now.UnixNano()})
				}
				m.mu.Unlock()
				if full {
					return fmt.Errorf("failover: store binding: %w (and %d others wait for the store)", err, maxUnstored)
				}
				m.C.StoreDeferred.Add(1)
				m.log.Warn("dynamic binding installed, not yet in the store; written when it answers",
					"ipv4", fmtIPv4(b.IPv4), "psid", b.PSID, "err", err)
			}
		}
	}
	m.mu.Lock()
	m.provisioned = append(m.provisioned, DynamicBinding{Binding: b, Origin: Provisioned, Created: now, Renewed: now, Lease: lease})
	m.mu.Unlock()
	return nil
}

// writeUnstored writes the provisioned bindings the store refused, oldest
// first, stopping at the first refusal (the store is still away). A
// binding gone meanwhile (expired, replaced) is forgotten; one not yet
// installed (the next Poll installs it) waits, for at most a lifetime.
func (m *Manager) writeUnstored() {
	m.mu.Lock()
	list := m.unstored
	m.unstored = nil
	m.mu.Unlock()
	if len(list) == 0 || m.w == nil {
		return
	}
	now := m.cfg.Now().UnixNano()
	var keep []unstoredBinding
	for i, u := range list {
		m.mu.Lock()
		d, ok := m.dyn.get(key(u.b.IPv4, u.b.PSID))
		installed := ok && d.b == u.b && d.lease == 0
		m.mu.Unlock()
		if !installed {
			if !ok && now-u.at < int64(m.cfg.Lifetime) {
				keep = append(keep, u)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.QueryTimeout)
		lease, err := m.w.Create(ctx, u.b, m.cfg.Lifetime)
		cancel()
		if err != nil {
			keep = append(keep, list[i:]...)
			break
		}
		m.mu.Lock()
		if d, ok := m.dyn.get(key(u.b.IPv4, u.b.PSID)); ok && d.b == u.b {
			d.lease = lease
		}
		m.mu.Unlock()
		m.C.StoreCaughtUp.Add(1)
		m.log.Info("dynamic binding written to the store", "ipv4", fmtIPv4(u.b.IPv4), "psid", u.b.PSID)
	}
	if len(keep) > 0 {
		m.mu.Lock()
		m.unstored = append(keep, m.unstored...)
		m.mu.Unlock()
	}
}

// Dynamic returns a copy of the dynamic bindings.
func (m *Manager) Dynamic() []DynamicBinding {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]DynamicBinding, m.dyn.len())
	for i := range out {
		out[i] = m.dyn.at(i).public()
	}
	return out
}

// DynamicCount is the number of dynamic bindings.
func (m *Manager) DynamicCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dyn.len()
}

func fmtIPv4(a uint32) string {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).String()
}
