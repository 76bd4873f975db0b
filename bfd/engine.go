package bfd

import (
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Change reports a session's change of local state.
type Change struct {
	Time        time.Time
	Discr       uint32
	RemoteDiscr uint32
	Path        PathKey
	Tag         any
	Old, New    State
	Diag        Diag
	RemoteDiag  Diag
}

// Options configure an Engine; the zero value is usable.
type Options struct {
	// Clock defaults to SystemClock.
	Clock Clock
	// Seed makes discriminators and jitter reproducible (tests); 0 seeds
	// from the runtime's random source.
	Seed uint64
	// OnChange is called, under the engine's lock, for every change of a
	// session's local state. It must not call back into the engine and
	// should not block (the adapter queues into the event hub).
	OnChange func(Change)
	Log      *slog.Logger
	// SpreadFirstPacket delays each new session's first packet by a
	// random part of its interval, so that thousands of sessions added at
	// once do not burst. Off by default so tests see the first packet at
	// once.
	SpreadFirstPacket bool
}

// EngineCounters count packets no session could be blamed for.
type EngineCounters struct {
	RxNoSession uint64
	RxInvalid   uint64
}

// Inbound is one received packet as a transport hands it to the engine.
type Inbound struct {
	Data []byte
	Path PathKey
	// TTL is the received TTL or hop limit.
	TTL uint8
}

// Engine owns all sessions of the element, one scheduler for their timers,
// and the discriminator space. It is safe for concurrent use: transports
// call Receive from their reader goroutines while Run drives the timers.
type Engine struct {
	mu       sync.Mutex
	clock    Clock
	epoch    time.Time
	rng      *rand.Rand
	discr    *discrAllocator
	sessions map[uint32]*Session
	byPath   map[PathKey]*Session
	timers   timerHeap
	onChange func(Change)
	log      *slog.Logger
	counters EngineCounters

	txBuf   [MaxLen]byte
	senders []Sender // touched this round, to flush
	changes []Change // queued this round, delivered before unlock
	wake    chan struct{}
	dynamic *dynamicTemplate
	// sleepUntil is the deadline Run sleeps towards; a round that arms
	// an earlier timer wakes it.
	sleepUntil  int64
	spreadFirst bool
}

// NewEngine returns an engine with no sessions.
func NewEngine(o Options) *Engine {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &Engine{
		clock:    o.Clock,
		epoch:    o.Clock.Now(),
		rng:      rng,
		discr:    newDiscrAllocator(rng),
		sessions: map[uint32]*Session{},
		byPath:   map[PathKey]*Session{},
		onChange: o.OnChange,
		log:      o.Log,
		wake:     make(chan struct{}, 1),

		spreadFirst: o.SpreadFirstPacket,
	}
}

// now is the engine's time in nanoseconds since its creation; never 0 for
// an armed timer because the first due time is at least "now" of a call.
func (e *Engine) now() int64 { return int64(e.clock.Now().Sub(e.epoch)) + 1 }

func (e *Engine) wall(ns int64) time.Time { return e.epoch.Add(time.Duration(ns - 1)) }

// AddSession creates a session in state Down (or AdminDown) and returns
// its local discriminator.
func (e *Engine) AddSession(c SessionConfig, snd Sender) (uint32, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	e.mu.Lock()
	defer e.unlock()
	if c.Path.Kind != PathSBFD {
		if _, dup := e.byPath[c.Path]; dup {
			return 0, ErrDuplicatePath
		}
	}
	now := e.now()
	s := e.newSession(c, snd)
	s.reschedule(now)
	if s.nextTx != 0 && e.spreadFirst {
		// Sessions added in bulk would all send their first packet in
		// the same instant: spread them over the first interval.
		s.nextTx = now + e.rng.Int64N(s.txIval)
		s.updateDue()
	}
	e.poke()
	return s.localDiscr, nil
}

// newSession creates and registers a session in state Down (AdminDown
// when so configured); the caller schedules it.
func (e *Engine) newSession(c SessionConfig, snd Sender) *Session {
	s := &Session{
		eng:         e,
		cfg:         c,
		sender:      snd,
		state:       StateDown,
		remoteState: StateDown,
		localDiscr:  e.discr.alloc(),
		remoteMinRx: 1, // section 6.8.1's initial value
		effTx:       c.DesiredMinTxInterval,
		effRx:       c.RequiredMinRxInterval,
		heapIdx:     -1,
		xmitAuthSeq: e.rng.Uint32(), // section 6.8.1: random start
		remoteDiscr: c.SBFDRemoteDiscr,
	}
	e.sessions[s.localDiscr] = s
	if c.Path.Kind != PathSBFD {
		e.byPath[c.Path] = s
	}
	if c.AdminDown {
		s.state = StateAdminDown
		s.localDiag = DiagAdministrativelyDown
	}
	return s
}

// UpdateSession reconfigures a session in place: timers renegotiate with a
// Poll sequence, keys change, admin down toggles; the path cannot change.
func (e *Engine) UpdateSession(discr uint32, c SessionConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.unlock()
	s := e.sessions[discr]
	if s == nil {
		return ErrUnknownSession
	}
	if c.Path != s.cfg.Path {
		return ErrBadPath
	}
	s.reconfigure(e.now(), c)
	e.poke()
	return nil
}

// RemoveSession deletes a session. It sends one last AdminDown packet so
// the peer goes down with diag 7 (section 6.8.16) rather than waiting for
// its detection timer.
func (e *Engine) RemoveSession(discr uint32) error {
	e.mu.Lock()
	defer e.unlock()
	s := e.sessions[discr]
	if s == nil {
		return ErrUnknownSession
	}
	if s.state != StateAdminDown && s.remoteDiscr != 0 {
		s.state, s.localDiag = StateAdminDown, DiagAdministrativelyDown
		s.transmit(false)
	}
	s.due = 0
	e.timers.set(s)
	delete(e.sessions, discr)
	if e.byPath[s.cfg.Path] == s {
		delete(e.byPath, s.cfg.Path)
	}
	e.discr.release(discr)
	if s.dynamic && e.dynamic != nil {
		e.dynamic.count--
	}
	return nil
}

// SignalDiag reports an outside event to a session (section 6.8.17).
// DiagForwardingPlaneReset, DiagPathDown and DiagEchoFunctionFailed take
// the session Down with that diagnostic; DiagConcatenatedPathDown and
// DiagReverseConcatenatedPathDown are only advertised while Up;
// DiagNone clears an advertised one.
func (e *Engine) SignalDiag(discr uint32, d Diag) error {
	e.mu.Lock()
	defer e.unlock()
	s := e.sessions[discr]
	if s == nil {
		return ErrUnknownSession
	}
	now := e.now()
	switch d {
	case DiagForwardingPlaneReset, DiagPathDown, DiagEchoFunctionFailed:
		if s.state != StateAdminDown {
			s.setState(now, StateDown, d)
		}
	case DiagConcatenatedPathDown, DiagReverseConcatenatedPathDown, DiagNone:
		if s.state == StateUp {
			s.localDiag = d
		}
	}
	s.reschedule(now)
	return nil
}

// Poll starts a Poll sequence on a session, for instance to verify
// connectivity while demand mode is active (section 6.6).
func (e *Engine) Poll(discr uint32) error {
	e.mu.Lock()
	defer e.unlock()
	s := e.sessions[discr]
	if s == nil {
		return ErrUnknownSession
	}
	now := e.now()
	s.pollActive = true
	if s.detectAt == 0 && s.state == StateUp {
		s.armDetect(now)
	}
	s.nextTx = 0 // send the Poll now
	s.reschedule(now)
	e.poke()
	return nil
}

// ReserveDiscriminator keeps d for the S-BFD reflector; false if in use.
func (e *Engine) ReserveDiscriminator(d uint32) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.discr.reserve(d)
}

// ReleaseDiscriminator undoes ReserveDiscriminator.
func (e *Engine) ReleaseDiscriminator(d uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.discr.unreserve(d)
}

// Receive processes a batch of received packets under one lock.
func (e *Engine) Receive(batch []Inbound) {
	e.mu.Lock()
	defer e.unlock()
	now := e.now()
	for i := range batch {
		e.receiveOne(now, &batch[i])
	}
}

func (e *Engine) receiveOne(now int64, in *Inbound) {
	b := in.Data
	// Demultiplex on the raw bytes first, so that the session's own
	// decode options (its Null-Authentication code point) apply.
	var s *Session
	if len(b) >= MandatoryLen {
		if your := binary.BigEndian.Uint32(b[8:12]); your != 0 {
			s = e.sessions[your]
		} else if s = e.byPath[in.Path]; s == nil {
			s = e.createDynamic(now, in.Path)
		}
	}
	if s == nil || s.cfg.Path.Kind != in.Path.Kind {
		if len(b) >= MandatoryLen {
			e.counters.RxNoSession++
		} else {
			e.counters.RxInvalid++
		}
		return
	}
	var p Packet
	if err := p.Decode(b, DecodeOptions{NullAuthType: s.cfg.Stability.authType()}); err != nil {
		s.counters.RxInvalid++
		return
	}
	s.receive(now, &p, b, in.TTL)
}

// Advance runs every timer due by the clock's now and returns when the
// next one is due (zero time when none is armed). It releases the lock
// (and flushes what was sent) every advanceChunk timers, so that a large
// backlog of due timers does not starve the receivers.
func (e *Engine) Advance() time.Time {
	for {
		e.mu.Lock()
		now := e.now()
		n := 0
		for ; n < advanceChunk; n++ {
			s := e.timers.peek()
			if s == nil || s.due > now {
				break
			}
			s.expire(now)
		}
		if n == advanceChunk {
			e.unlock()
			continue
		}
		var next time.Time
		if s := e.timers.peek(); s != nil {
			next = e.wall(s.due)
		}
		e.unlock()
		return next
	}
}

// advanceChunk is how many timers Advance serves per lock hold.
const advanceChunk = 128

// noteSender remembers a sender to flush at the end of the round.
func (e *Engine) noteSender(snd Sender) {
	for _, x := range e.senders {
		if x == snd {
			return
		}
	}
	e.senders = append(e.senders, snd)
}

func (e *Engine) noteChange(s *Session, old State, t time.Time) {
	e.changes = append(e.changes, Change{
		Time: t, Discr: s.localDiscr, RemoteDiscr: s.remoteDiscr, Path: s.cfg.Path, Tag: s.cfg.Tag,
		Old: old, New: s.state, Diag: s.localDiag, RemoteDiag: s.remoteDiag,
	})
	// Values, not their strings: a disabled logger formats nothing.
	e.log.Info("bfd session state", "path", s.cfg.Path, "discr", s.localDiscr,
		"old", old, "new", s.state, "diag", s.localDiag)
}

// unlock delivers queued changes, unlocks, and then flushes the senders
// used this round: their system calls run without holding the engine.
func (e *Engine) unlock() {
	var local [4]Sender
	flush := append(local[:0], e.senders...)
	clear(e.senders)
	e.senders = e.senders[:0]
	if e.onChange != nil {
		for _, c := range e.changes {
			e.onChange(c)
		}
	}
	clear(e.changes)
	e.changes = e.changes[:0]
	// Wake Run only for a timer due clearly before its planned wakeup:
	// it serves timers with millisecond granularity anyway, and waking
	// it for every received batch would make it spin.
	if s := e.timers.peek(); s != nil && s.due+int64(minSleep) < e.sleepUntil {
		e.poke()
	}
	e.mu.Unlock()
	for _, snd := range flush {
		if f, ok := snd.(Flusher); ok {
			f.Flush()
		}
	}
}

// poke wakes Run so that it recomputes its sleep.
func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Counters returns the engine-wide counters.
func (e *Engine) Counters() EngineCounters {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counters
}
