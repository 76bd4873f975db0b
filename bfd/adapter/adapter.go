package adapter

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"

	"sync"
	"sync/atomic"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/schema"
)

// Transport is what the adapter needs of a packet transport;
// *transport.UDP is one.
type Transport interface {
	bfd.Sender
	Key(remote netip.Addr) bfd.PathKey
	Run() error
	Close() error
}

// Opener opens a transport for the engine; tests replace the UDP one.
type Opener func(cfg transport.Config, eng *bfd.Engine) (Transport, error)

// OpenUDP is the Opener of the running element.
func OpenUDP(cfg transport.Config, eng *bfd.Engine) (Transport, error) {
	return transport.Open(cfg, eng)
}

// ReflectorServer serves a bfd.Reflector on the network;
// *transport.Reflector is one.
type ReflectorServer interface {
	Run() error
	Close() error
}

// ReflectorOpener opens a reflector server; tests replace the UDP one.
type ReflectorOpener func(cfg transport.ReflectorConfig, r *bfd.Reflector) (ReflectorServer, error)

// OpenUDPReflector is the ReflectorOpener of the running element.
func OpenUDPReflector(cfg transport.ReflectorConfig, r *bfd.Reflector) (ReflectorServer, error) {
	return transport.OpenReflector(cfg, r)
}

// Options configure a Subsystem.
type Options struct {
	Log           *slog.Logger
	Open          Opener          // OpenUDP when nil
	OpenReflector ReflectorOpener // OpenUDPReflector when nil
}

// running is one configured session in the engine.
type running struct {
	w     wanted
	discr uint32
}

type openServer struct {
	srv  ReflectorServer
	done chan struct{}
}

type openTransport struct {
	t    Transport
	done chan struct{}
}

// Subsystem is the BFD engine as the element core sees it.
type Subsystem struct {
	log           *slog.Logger
	open          Opener
	openReflector ReflectorOpener
	eng           *bfd.Engine
	stop          func()
	done          chan struct{}

	mu         sync.Mutex
	sessions   map[sessKey]*running
	transports map[trKey]*openTransport

	// The S-BFD reflector: its answering core, the discriminators it
	// holds reserved in the engine and its servers (one per family).
	reflector    *bfd.Reflector
	reflReserved []uint32
	reflServers  []*openServer
	reflLocal    netip.Addr
	// pending is what the last Prepare reserved, until Abort or Apply.
	pending *prepared
	// sink is read by onChange under the engine's lock, so it must not
	// need s.mu (Apply holds s.mu while calling the engine).
	sink atomic.Pointer[sinkBox]
}

type sinkBox struct{ events.Sink }

func (s *Subsystem) sinkFor() events.Sink {
	if b := s.sink.Load(); b != nil {
		return b.Sink
	}
	return events.Discard{}
}

// NewSubsystem starts the engine's scheduler; Close stops it.
func NewSubsystem(o Options) *Subsystem {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Open == nil {
		o.Open = OpenUDP
	}
	if o.OpenReflector == nil {
		o.OpenReflector = OpenUDPReflector
	}
	s := &Subsystem{
		log: o.Log, open: o.Open, openReflector: o.OpenReflector,
		sessions: map[sessKey]*running{}, transports: map[trKey]*openTransport{},
		done: make(chan struct{}),
	}
	s.eng = bfd.NewEngine(bfd.Options{Log: o.Log, OnChange: s.onChange, SpreadFirstPacket: true})
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() { s.eng.Run(ctx); close(s.done) }()
	return s
}

// Engine returns the engine, for the softwire engine's tunnel path and for
// tests.
func (s *Subsystem) Engine() *bfd.Engine { return s.eng }

// Name is "bfd".
func (s *Subsystem) Name() string { return "bfd" }

// Attach sets the sink for session state change notifications.
func (s *Subsystem) Attach(sink events.Sink) {
	if sink == nil {
		sink = events.Discard{}
	}
	s.sink.Store(&sinkBox{sink})
}

// Owns is /bfd.
func (s *Subsystem) Owns() []*gpb.Path { return []*gpb.Path{path(elem("bfd"))} }

// prepared is what Prepare computed and reserved for the commit under way.
type prepared struct {
	cs     *schema.ChangeSet
	want   map[sessKey]wanted
	opened map[trKey]*openTransport // opened by Prepare, not running yet
	refl   reflectorPlan
}

// Prepare checks what YANG cannot (authentication type against secret,
// authentication against stability, address families, profiles, each
// session's engine configuration) and opens the transports and reflector
// sockets the new configuration needs without running them, so that Apply
// cannot fail. The engine does nothing new until Apply.
func (s *Subsystem) Prepare(cs *schema.ChangeSet) error {
	candidate := cs.New
	// BFD inside DS-Lite softwires (/bfd/softwire/session) is run by the
	// softwire subsystem, next to its tunnels (softwire.go here renders it).
	if err := validateSoftwire(candidate); err != nil {
		return err
	}
	want, err := desired(candidate)
	if err != nil {
		return err
	}
	reflWant, err := desiredReflector(candidate)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &prepared{cs: cs, want: want, opened: map[trKey]*openTransport{}}
	fail := func(err error) error {
		s.release(p)
		return err
	}
	for k, w := range want {
		t := s.transportFor(w.tr, p)
		if t == nil {
			nt, err := s.open(w.tr.config(), s.eng)
			if err != nil {
				return fail(schema.Errorf(schema.TagResourceDenied, k.path(), "open %v transport (interface %q, local %v): %v", w.tr.kind, w.tr.iface, w.tr.local, err))
			}
			p.opened[w.tr] = &openTransport{t: nt, done: make(chan struct{})}
			t = nt
		}
		w.cfg.Path = t.Key(w.remote)
		if err := w.cfg.Validate(); err != nil {
			return fail(schema.Errorf(schema.TagInvalidValue, k.path(), "%v", err))
		}
		want[k] = w
	}
	if p.refl, err = s.prepareReflector(reflWant); err != nil {
		return fail(err)
	}
	s.pending = p
	return nil
}

// transportFor returns the open or just prepared transport of k, nil if
// there is none yet.
func (s *Subsystem) transportFor(k trKey, p *prepared) Transport {
	if ot, ok := s.transports[k]; ok {
		return ot.t
	}
	if ot, ok := p.opened[k]; ok {
		return ot.t
	}
	return nil
}

// release closes what Prepare opened for p and frees what it reserved.
func (s *Subsystem) release(p *prepared) {
	for _, ot := range p.opened {
		if err := ot.t.Close(); err != nil {
			s.log.Warn("bfd transport close", "err", err)
		}
	}
	s.releaseReflector(p.refl)
}

// Abort releases what Prepare reserved.
func (s *Subsystem) Abort(cs *schema.ChangeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pending; p != nil && p.cs == cs {
		s.release(p)
		s.pending = nil
	}
}

// Apply moves the engine to the prepared configuration: the prepared
// transports start, sessions are removed, updated in place (timers
// renegotiate with Poll/Final, no flap) or added, unused transports close.
func (s *Subsystem) Apply(cs *schema.ChangeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending
	s.pending = nil
	if p == nil || p.cs != cs {
		s.log.Error("bfd: Apply without Prepare; configuration not applied")
		return
	}
	s.applyReflector(p.refl)
	for k, ot := range p.opened {
		go func() { _ = ot.t.Run(); close(ot.done) }()
		s.transports[k] = ot
	}
	for k, r := range s.sessions {
		w, ok := p.want[k]
		if !ok || w.tr != r.w.tr || w.remote != r.w.remote {
			if err := s.eng.RemoveSession(r.discr); err != nil {
				s.log.Error("bfd: remove session", "session", k, "err", err)
			}
			delete(s.sessions, k)
		}
	}
	for k, w := range p.want {
		t := s.transports[w.tr].t
		if r, ok := s.sessions[k]; ok {
			// Keep the previous key as an accepted one, so that a
			// key change on both ends does not flap the session.
			w.cfg.Auth.Keys = mergeKeys(w.cfg.Auth, r.w.cfg.Auth)
			if err := s.eng.UpdateSession(r.discr, w.cfg); err != nil {
				s.log.Error("bfd: update session", "session", k, "err", err)
				continue
			}
			r.w = w
			continue
		}
		d, err := s.eng.AddSession(w.cfg, t)
		if err != nil {
			s.log.Error("bfd: add session", "session", k, "err", err)
			continue
		}
		s.sessions[k] = &running{w: w, discr: d}
	}
	for k := range s.transports {
		if !s.transportUsed(k) {
			s.closeTransport(k)
		}
	}
}

// mergeKeys returns the new keys plus the previous transmit key, when it
// is of the same type and differs, as a key still accepted on receipt.
func mergeKeys(now, before bfd.AuthConfig) []bfd.Key {
	keys := now.Keys
	if now.Type == bfd.AuthNone || now.Type != before.Type {
		return keys
	}
	for _, k := range before.Keys {
		if k.ID == before.TxKeyID && !slices.ContainsFunc(keys, func(x bfd.Key) bool {
			return x.ID == k.ID && string(x.Secret) == string(k.Secret)
		}) {
			return append(slices.Clone(keys), k)
		}
	}
	return keys
}

func (s *Subsystem) transportUsed(k trKey) bool {
	for _, r := range s.sessions {
		if r.w.tr == k {
			return true
		}
	}
	return false
}

func (s *Subsystem) closeTransport(k trKey) {
	ot := s.transports[k]
	delete(s.transports, k)
	if ot == nil {
		return
	}
	if err := ot.t.Close(); err != nil {
		s.log.Warn("bfd transport close", "err", err)
	}
	<-ot.done
}

// Close removes every session and transport and stops the scheduler.
func (s *Subsystem) Close() error {
	s.mu.Lock()
	if s.pending != nil {
		s.release(s.pending)
		s.pending = nil
	}
	s.applyReflector(reflectorPlan{})
	for k, r := range s.sessions {
		_ = s.eng.RemoveSession(r.discr)
		delete(s.sessions, k)
	}
	for k := range s.transports {
		s.closeTransport(k)
	}
	s.mu.Unlock()
	s.stop()
	<-s.done
	return nil
}
