package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
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

// New starts the engine's scheduler; Close stops it.
func New(o Options) *Subsystem {
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

// Validate checks what YANG cannot: authentication type against secret,
// authentication against stability, address families, profiles.
func (s *Subsystem) Validate(candidate *gen.Device) error {
	// BFD inside DS-Lite softwires (/bfd/softwire/session) is run by the
	// softwire subsystem, next to its tunnels (softwire.go here renders it).
	if err := validateSoftwire(candidate); err != nil {
		return err
	}
	if _, err := desired(candidate); err != nil {
		return err
	}
	_, err := desiredReflector(candidate)
	return err
}

// Apply moves the engine from old to new: transports first (the only step
// that can fail, undone on failure), then sessions added, updated in place
// (timers renegotiate with Poll/Final, no flap) or removed.
func (s *Subsystem) Apply(_, newCfg *gen.Device) error {
	want, err := desired(newCfg)
	if err != nil {
		return err
	}
	refl, err := desiredReflector(newCfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.applyReflector(refl); err != nil {
		return err
	}

	var opened []trKey
	for _, w := range want {
		if _, ok := s.transports[w.tr]; ok || slices.Contains(opened, w.tr) {
			continue
		}
		t, err := s.open(w.tr.config(), s.eng)
		if err != nil {
			for _, k := range opened {
				s.closeTransport(k)
			}
			return fmt.Errorf("bfd: open %v transport (interface %q, local %v): %w", w.tr.kind, w.tr.iface, w.tr.local, err)
		}
		ot := &openTransport{t: t, done: make(chan struct{})}
		go func() { _ = t.Run(); close(ot.done) }()
		s.transports[w.tr] = ot
		opened = append(opened, w.tr)
	}

	var errs []error
	for k, r := range s.sessions {
		w, ok := want[k]
		if !ok || w.tr != r.w.tr || w.remote != r.w.remote {
			errs = append(errs, s.eng.RemoveSession(r.discr))
			delete(s.sessions, k)
		}
	}
	for k, w := range want {
		t := s.transports[w.tr].t
		w.cfg.Path = t.Key(w.remote)
		if r, ok := s.sessions[k]; ok {
			// Keep the previous key as an accepted one, so that a
			// key change on both ends does not flap the session.
			w.cfg.Auth.Keys = mergeKeys(w.cfg.Auth, r.w.cfg.Auth)
			if err := s.eng.UpdateSession(r.discr, w.cfg); err != nil {
				errs = append(errs, fmt.Errorf("update %v: %w", k, err))
				continue
			}
			r.w = w
			continue
		}
		d, err := s.eng.AddSession(w.cfg, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("add %v: %w", k, err))
			continue
		}
		s.sessions[k] = &running{w: w, discr: d}
	}
	for k := range s.transports {
		if !s.transportUsed(k) {
			s.closeTransport(k)
		}
	}
	return errors.Join(errs...)
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
	_ = s.applyReflector(nil)
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
