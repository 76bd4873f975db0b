package dslite

import (
	"net/netip"
	"sync"
	"time"

	"github.com/wirebeat/wirebeat/bfd"
)

// BFD inside the softwires (seed 000). The BFD engine runs its timers on
// its own goroutine and the DS-Lite engines on the data plane's, so the
// glue here keeps them apart: BFD packets to send are queued (copied)
// and the data plane encapsulates them between batches; received BFD
// packets go to the BFD engine directly from the data plane (its lock is
// the inner one); session changes come back through HandleChange and are
// applied from the data plane too (AFTR) or under the B4's own control
// lock (B4). No lock is ever taken in the other order.

// bfdQueue holds BFD packets the engine sent until the data plane
// encapsulates them. It is bounded: when full, packets are dropped and
// counted, which BFD survives (it is built for loss).
type bfdQueue struct {
	mu      sync.Mutex
	pkts    []queuedBFD
	spare   []queuedBFD
	max     int
	dropped uint64
}

type queuedBFD struct {
	to  netip.Addr
	n   int
	buf [bfd.MaxLen]byte
}

func (q *bfdQueue) Send(key bfd.PathKey, pkt []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pkts) >= q.max || len(pkt) > bfd.MaxLen {
		q.dropped++
		return nil
	}
	q.pkts = append(q.pkts, queuedBFD{to: key.Remote})
	e := &q.pkts[len(q.pkts)-1]
	e.n = copy(e.buf[:], pkt)
	return nil
}

// drain hands every queued packet to send.
func (q *bfdQueue) drain(send func(to netip.Addr, payload []byte)) {
	q.mu.Lock()
	pkts := q.pkts
	q.pkts = q.spare[:0]
	q.mu.Unlock()
	for i := range pkts {
		send(pkts[i].to, pkts[i].buf[:pkts[i].n])
	}
	q.mu.Lock()
	q.spare = pkts[:0]
	q.mu.Unlock()
}

// B4Unreachable reports that the AFTR lost the BFD session with a B4
// ("CGN detects failure, informs the management").
type B4Unreachable struct {
	Time     time.Time
	B4       netip.Addr
	Diag     bfd.Diag
	Sessions int       // NAT sessions the B4 held then
	LastSeen time.Time // last packet (data or BFD) from the B4
}

// AFTRBFDConfig configures BFD at the AFTR.
type AFTRBFDConfig struct {
	// Template gives intervals, multiplier, authentication and stability
	// of the automatic passive sessions.
	Template bfd.SessionConfig
	// MaxSessions caps the automatic sessions (forged packets cannot
	// exhaust memory); 1<<20 when zero.
	MaxSessions int
	// IdleTimeout removes an automatic session whose B4 sent no BFD for
	// that long (10 minutes when zero).
	IdleTimeout time.Duration
	// OnB4Unreachable is told when a B4's session goes down after being
	// up. It is called from the data plane goroutine (AFTRBFD.Service).
	OnB4Unreachable func(B4Unreachable)
	// Now is the clock of last-seen times (time.Now when nil; the BFD
	// engine's clock in tests).
	Now func() time.Time
	// Active makes the AFTR start sessions itself, to every B4 it holds
	// NAT state for (AFTRConfig.OnB4 = Track) and to those named with
	// AddB4, instead of answering B4s that start BFD.
	Active bool
}

// AFTRBFD runs the AFTR's side of BFD inside the softwires: a passive
// session made on the fly for every B4 that starts BFD, keyed by the B4's
// IPv6 address (every B4 is 192.0.0.2 inside).
type AFTRBFD struct {
	eng   *bfd.Engine
	cfg   AFTRBFDConfig
	tmpl  bfd.SessionConfig
	local netip.Addr
	q     bfdQueue
	in    [1]bfd.Inbound

	mu       sync.Mutex
	sessions map[netip.Addr]*aftrPeer // by B4 address
	changes  []bfd.Change
	lastScan time.Time
}

type aftrPeer struct {
	discr   uint32
	created time.Time
	pinned  bool // named by AddB4: kept while idle
	lastBFD time.Time
	wasUp   bool
}

// NewAFTRBFD enables automatic sessions on eng for AFTR a and hooks
// them to it: a's OnBFD must call Receive (NewAFTR's cfg.OnBFD =
// m.Receive, made before with a nil engine and bound by Bind).
func NewAFTRBFD(eng *bfd.Engine, local netip.Addr, cfg AFTRBFDConfig) (*AFTRBFD, error) {
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = 1 << 20
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &AFTRBFD{eng: eng, cfg: cfg, local: local, sessions: map[netip.Addr]*aftrPeer{}}
	// A timer round may send for every session at once (one periodic
	// packet each, and a Final for a Poll): the queue holds that much,
	// growing only as far as it is used.
	m.q.max = max(1<<16, 2*cfg.MaxSessions)
	tmpl := cfg.Template
	tmpl.MinRxTTL = 255 // one hop inside the tunnel (RFC 5881 §5)
	tmpl.Tag = "dslite-aftr"
	m.tmpl = tmpl
	if cfg.Active {
		return m, nil
	}
	err := eng.EnableDynamic(bfd.PathSoftwire, tmpl, &m.q, cfg.MaxSessions, func(c bfd.DynamicCreated) {
		// Called under the BFD engine's lock; m.mu is a leaf lock.
		m.mu.Lock()
		now := cfg.Now()
		m.sessions[c.Path.Remote] = &aftrPeer{discr: c.Discr, lastBFD: now, created: now}
		m.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Receive is the AFTR's OnBFD hook: a BFD packet from B4 b4.
func (m *AFTRBFD) Receive(b4 netip.Addr, ttl uint8, payload []byte) {
	m.in[0] = bfd.Inbound{Data: payload, Path: bfd.PathKey{Kind: bfd.PathSoftwire, Local: m.local, Remote: b4}, TTL: ttl}
	m.eng.Receive(m.in[:])
	m.in[0].Data = nil
	m.mu.Lock()
	if p := m.sessions[b4]; p != nil {
		p.lastBFD = m.cfg.Now()
	}
	m.mu.Unlock()
}

// HandleChange takes the BFD engine's changes (call it from the engine's
// OnChange); softwire sessions of this AFTR are kept for Service.
func (m *AFTRBFD) HandleChange(c bfd.Change) {
	if c.Path.Kind != bfd.PathSoftwire || c.Path.Local != m.local {
		return
	}
	m.mu.Lock()
	if len(m.changes) < 1<<16 {
		m.changes = append(m.changes, c)
	}
	m.mu.Unlock()
}

// Service runs on the data plane goroutine between batches: it sends
// queued BFD packets through a, reports B4s whose session went down, and
// removes sessions idle for longer than the idle timeout.
func (m *AFTRBFD) Service(a *AFTR, now time.Time) {
	m.q.drain(a.SendBFD)
	m.mu.Lock()
	changes := m.changes
	m.changes = nil
	m.mu.Unlock()
	for _, c := range changes {
		m.mu.Lock()
		p := m.sessions[c.Path.Remote]
		report := false
		if p != nil {
			if c.New == bfd.StateUp {
				p.wasUp = true
			} else if c.Old == bfd.StateUp && c.New == bfd.StateDown {
				report = true
			}
		}
		m.mu.Unlock()
		if report && m.cfg.OnB4Unreachable != nil {
			info, _ := a.B4(c.Path.Remote)
			last := info.LastSeen
			m.mu.Lock()
			if p.lastBFD.After(last) {
				last = p.lastBFD
			}
			m.mu.Unlock()
			m.cfg.OnB4Unreachable(B4Unreachable{Time: c.Time, B4: c.Path.Remote, Diag: c.Diag, Sessions: info.Sessions, LastSeen: last})
		}
	}
	if now.Sub(m.lastScan) < time.Second {
		return
	}
	m.lastScan = now
	var idle []uint32
	m.mu.Lock()
	for b4, p := range m.sessions {
		if !m.cfg.Active && !p.pinned && now.Sub(p.lastBFD) > m.cfg.IdleTimeout {
			idle = append(idle, p.discr)
			delete(m.sessions, b4)
		}
	}
	m.mu.Unlock()
	for _, d := range idle {
		_ = m.eng.RemoveSession(d) // already gone is fine
	}
}

// AddB4 starts an active session to B4 b4 (a configured
// /bfd/softwire/session of role aftr), kept until RemoveB4.
func (m *AFTRBFD) AddB4(b4 netip.Addr) error {
	return m.add(b4, true)
}

func (m *AFTRBFD) add(b4 netip.Addr, pinned bool) error {
	m.mu.Lock()
	if p := m.sessions[b4]; p != nil {
		p.pinned = p.pinned || pinned
		m.mu.Unlock()
		return nil
	}
	m.mu.Unlock()
	c := m.tmpl
	c.Path = bfd.PathKey{Kind: bfd.PathSoftwire, Local: m.local, Remote: b4}
	c.Passive = false
	d, err := m.eng.AddSession(c, &m.q)
	if err != nil {
		return err
	}
	now := m.cfg.Now()
	m.mu.Lock()
	m.sessions[b4] = &aftrPeer{discr: d, created: now, lastBFD: now, pinned: pinned}
	m.mu.Unlock()
	return nil
}

// RemoveB4 ends the session to b4.
func (m *AFTRBFD) RemoveB4(b4 netip.Addr) {
	m.mu.Lock()
	p := m.sessions[b4]
	delete(m.sessions, b4)
	m.mu.Unlock()
	if p != nil {
		_ = m.eng.RemoveSession(p.discr)
	}
}

// Track is AFTRConfig.OnB4 for an active AFTR: a session to every B4
// with NAT state, ended with its last NAT session unless AddB4 named it.
// It runs on the data plane goroutine.
func (m *AFTRBFD) Track(b4 netip.Addr, present bool) {
	if !m.cfg.Active {
		return
	}
	if present {
		_ = m.add(b4, false) // over the engine's limits: no session, counted there
		return
	}
	m.mu.Lock()
	p := m.sessions[b4]
	m.mu.Unlock()
	if p != nil && !p.pinned {
		m.RemoveB4(b4)
	}
}

// Session returns the BFD session with B4 b4.
func (m *AFTRBFD) Session(b4 netip.Addr) (bfd.SessionInfo, bool) {
	m.mu.Lock()
	p := m.sessions[b4]
	m.mu.Unlock()
	if p == nil {
		return bfd.SessionInfo{}, false
	}
	return m.eng.Session(p.discr)
}

// Each calls fn for every automatic session with its B4 and creation
// time.
func (m *AFTRBFD) Each(fn func(b4 netip.Addr, created time.Time, info bfd.SessionInfo)) {
	type one struct {
		b4      netip.Addr
		created time.Time
		discr   uint32
	}
	m.mu.Lock()
	all := make([]one, 0, len(m.sessions))
	for b4, p := range m.sessions {
		all = append(all, one{b4, p.created, p.discr})
	}
	m.mu.Unlock()
	for _, o := range all {
		if info, ok := m.eng.Session(o.discr); ok {
			fn(o.b4, o.created, info)
		}
	}
}

// Len is the number of automatic sessions.
func (m *AFTRBFD) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// B4BFDConfig configures BFD at the B4.
type B4BFDConfig struct {
	// Template gives intervals, multiplier, authentication and stability
	// of the session to each AFTR.
	Template bfd.SessionConfig
	// StartupTimeout marks an AFTR unreachable when its session has not
	// come up that long after it was made (an AFTR dead from the start
	// would otherwise stay "unknown", hence usable, for ever). Three
	// detection times of the template at the slow-start rate when zero.
	StartupTimeout time.Duration
}

// B4BFD runs the B4's side: one active session to every AFTR the B4
// knows, inside the tunnel to it, driving the B4's AFTR statuses.
type B4BFD struct {
	eng *bfd.Engine
	b4  *B4
	cfg B4BFDConfig
	q   bfdQueue
	in  [1]bfd.Inbound

	mu       sync.Mutex
	sessions map[netip.Addr]*b4Peer
}

type b4Peer struct {
	discr   uint32
	created time.Time
	up      bool // has been up
}

// NewB4BFD makes the sessions of B4 b on eng; b's OnBFD must call
// Receive, and the engine's OnChange HandleChange.
func NewB4BFD(eng *bfd.Engine, b *B4, cfg B4BFDConfig) *B4BFD {
	if cfg.StartupTimeout == 0 {
		tx := max(time.Duration(cfg.Template.DesiredMinTxInterval)*time.Microsecond, time.Second)
		cfg.StartupTimeout = 3 * time.Duration(max(cfg.Template.DetectMult, 1)) * tx
	}
	m := &B4BFD{eng: eng, b4: b, cfg: cfg, sessions: map[netip.Addr]*b4Peer{}}
	m.q.max = 1024
	return m
}

// Sync makes the sessions match the B4's AFTR list.
func (m *B4BFD) Sync(now time.Time) error {
	want := map[netip.Addr]bool{}
	for _, a := range m.b4.AFTRs() {
		want[a.Addr] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for addr, p := range m.sessions {
		if !want[addr] {
			_ = m.eng.RemoveSession(p.discr)
			delete(m.sessions, addr)
		}
	}
	for addr := range want {
		if m.sessions[addr] != nil {
			continue
		}
		c := m.cfg.Template
		c.Path = bfd.PathKey{Kind: bfd.PathSoftwire, Local: m.b4.Address(), Remote: addr}
		c.Passive = false
		c.MinRxTTL = 255
		c.Tag = "dslite-b4"
		d, err := m.eng.AddSession(c, &m.q)
		if err != nil {
			return err
		}
		m.sessions[addr] = &b4Peer{discr: d, created: now}
	}
	return nil
}

// Close removes every session.
func (m *B4BFD) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for addr, p := range m.sessions {
		_ = m.eng.RemoveSession(p.discr)
		delete(m.sessions, addr)
	}
}

// Receive is the B4's OnBFD hook.
func (m *B4BFD) Receive(aftr netip.Addr, ttl uint8, payload []byte) {
	m.in[0] = bfd.Inbound{Data: payload, Path: bfd.PathKey{Kind: bfd.PathSoftwire, Local: m.b4.Address(), Remote: aftr}, TTL: ttl}
	m.eng.Receive(m.in[:])
	m.in[0].Data = nil
}

// HandleChange turns the B4's session changes into AFTR statuses (call
// it from the engine's OnChange): Up is reachable, a fall from Up or
// Init is unreachable.
func (m *B4BFD) HandleChange(c bfd.Change) {
	if c.Path.Kind != bfd.PathSoftwire || c.Path.Local != m.b4.Address() {
		return
	}
	m.mu.Lock()
	p := m.sessions[c.Path.Remote]
	if p != nil && c.New == bfd.StateUp {
		p.up = true
	}
	m.mu.Unlock()
	switch {
	case c.New == bfd.StateUp:
		m.b4.SetStatus(c.Path.Remote, StatusReachable, c.Time)
	case c.New == bfd.StateDown || c.New == bfd.StateAdminDown:
		m.b4.SetStatus(c.Path.Remote, StatusUnreachable, c.Time)
	}
}

// Service runs on the data plane goroutine: it sends queued BFD packets
// through the B4 and marks AFTRs that never answered unreachable.
func (m *B4BFD) Service(now time.Time) {
	m.q.drain(m.b4.SendBFD)
	var dead []netip.Addr
	m.mu.Lock()
	for addr, p := range m.sessions {
		if !p.up && now.Sub(p.created) > m.cfg.StartupTimeout {
			dead = append(dead, addr)
			p.up = true // report once; a later Up makes it reachable
		}
	}
	m.mu.Unlock()
	for _, a := range dead {
		m.b4.SetStatus(a, StatusUnreachable, now)
	}
}

// Session returns the BFD session to AFTR aftr.
func (m *B4BFD) Session(aftr netip.Addr) (bfd.SessionInfo, bool) {
	m.mu.Lock()
	p := m.sessions[aftr]
	m.mu.Unlock()
	if p == nil {
		return bfd.SessionInfo{}, false
	}
	return m.eng.Session(p.discr)
}
