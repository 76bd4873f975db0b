package server

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// Datastore names a configuration datastore (RFC 6241 / RFC 8342).
type Datastore string

// The datastores of the element.
const (
	Running   Datastore = "running"
	Candidate Datastore = "candidate"
	Startup   Datastore = "startup"
)

// HistorySize is how many committed configurations are kept for rollback.
const HistorySize = 50

// editSummaryMax bounds the edits a config-change event lists; a commit of
// 100,000 bindings is reported as a summary, not as 100,000 edits.
const editSummaryMax = 1000

// Options configure a Server.
type Options struct {
	// DataDir holds the startup configuration and rollback history.
	DataDir string
	// Subsystems are prepared and applied in this order. The system
	// subsystem of the server comes first.
	Subsystems []Subsystem
	// Initial, when not nil, is the configuration to start with instead of
	// the startup file (the --config flag). Default is used when there is
	// neither.
	Initial []byte
	Default []byte
	Logger  *slog.Logger
	// Version is reported in /system/state/version.
	Version string
	// Limits is the resource budget every front end applies (limits.go).
	Limits Limits
}

// Server is the element core: the datastores, the commit pipeline, locks,
// sessions, the event hub and the subsystems. It is the Go API the NETCONF,
// gNMI and CLI front ends share.
type Server struct {
	log    *slog.Logger
	store  *store
	hub    *Hub
	gate   *eventGate // what subsystems publish through
	subs   []Subsystem
	system *systemSubsystem
	// confirmed is the pending confirmed commit of every front end.
	confirmed confirmedCommit

	// mu serializes every change of a datastore, lock or session, and
	// the commit pipeline. Reads of running do not take it.
	mu        sync.Mutex
	running   atomic.Pointer[gen.Device]
	candidate *gen.Device // nil while it equals running
	// candTouched records the list entries the edits of the candidate
	// changed relative to running (nil when unknown), so that its commit
	// compares those entries only.
	candTouched *schema.Touched
	locks       map[Datastore]uint32
	lockTimes   map[Datastore]time.Time
	sessions    map[uint32]*Session
	nextSess    uint32
	nextID      uint64
	saved       schema.JSONCache // text of running's list entries, for the next save

	commits atomic.Uint64
	seal    seal // test builds: proves running is never written in place
	// trusted is the configuration read back from the journal at boot,
	// which needs no validation again.
	trusted *gen.Device

	limits      Limits
	parseBudget *MemoryBudget
	auth        *authGate
	quota       quotas

	deniedOps, deniedWrites atomic.Uint64
	deniedNotifs            atomic.Uint64
	nacm                    nacmCache
}

// New opens the datadir, loads the configuration (Initial, else the startup
// file, else Default), validates it and applies it to every subsystem. A
// configuration that does not validate stops the element with the error:
// starting with something other than what the operator saved would be worse.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	st, err := openStore(opts.DataDir, HistorySize)
	if err != nil {
		return nil, err
	}
	s := &Server{
		log:       opts.Logger,
		store:     st,
		hub:       NewHub(),
		locks:     map[Datastore]uint32{},
		lockTimes: map[Datastore]time.Time{},
		sessions:  map[uint32]*Session{},
		seal:      seal{on: sealing()},
		limits:    opts.Limits.WithDefaults(),
	}
	s.parseBudget = NewMemoryBudget(s.limits.ParseMemory, s.limits.ParseMemory/8)
	s.auth = newAuthGate(s.limits, opts.Logger)
	s.quota = newQuotas()
	s.hub.SetQueueBytes(s.limits.QueueBytes)
	s.system = newSystemSubsystem(s, opts.Version)
	s.subs = append([]Subsystem{s.system}, opts.Subsystems...)
	s.gate = &eventGate{hub: s.hub}
	for _, sub := range s.subs {
		sub.Attach(s.gate)
	}
	s.running.Store(&gen.Device{})
	// Loading a large saved configuration builds a tree that is live as
	// a whole: collections during the load would find nothing to free.
	defer pauseGC(st.bootSize())()
	cfg, source, save, err := s.bootConfig(opts)
	if err != nil {
		s.store.close()
		return nil, err
	}
	boot := &Session{ID: 0, User: "system", Role: RoleAdmin, Transport: "system"}
	s.mu.Lock()
	// A configuration read from the journal or the startup file is on
	// disk already: booting from it writes nothing, so the element boots
	// on a full disk. Only --config is saved.
	if source == "journal" {
		// It passed validation when it was committed, and the journal's
		// records are checksummed: checking a million bindings again
		// would only delay the boot.
		s.trusted = cfg
	}
	_, err = s.commitLocked(boot, s.running.Load(), cfg, nil, "boot from "+source, save)
	s.trusted = nil
	if err == nil {
		err = s.revertUnconfirmedLocked(boot)
	}
	s.mu.Unlock()
	if err != nil {
		s.closeSubsystems()
		s.store.close()
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	s.log.Info("configuration loaded", "source", source, "commit", s.nextID)
	go s.watchUsers()
	return s, nil
}

// bootConfig finds the configuration to start with: --config, else the
// journal, else the startup file, else the built-in default. save says it
// must be committed to the journal (--config, which may differ from it).
func (s *Server) bootConfig(opts Options) (cfg *gen.Device, source string, save bool, err error) {
	st := s.store
	jcfg, id, found, err := st.load()
	if err != nil {
		return nil, "", false, fmt.Errorf("read the saved configuration: %w", err)
	}
	if found {
		s.nextID = id
	}
	data := opts.Initial
	source = "--config"
	if data == nil && found {
		return jcfg, "journal", false, nil
	}
	if data == nil {
		if data, err = st.readStartup(); err != nil {
			return nil, "", false, fmt.Errorf("read startup configuration: %w", err)
		}
		source = st.startupPath()
	}
	if data == nil {
		data, source = opts.Default, "built-in default"
	}
	cfg = &gen.Device{}
	if len(data) > 0 {
		if cfg, err = schema.DecodeJSON(data); err != nil {
			return nil, "", false, fmt.Errorf("%s: %w", source, err)
		}
	}
	if err := normalize(cfg, nil, nil); err != nil {
		return nil, "", false, fmt.Errorf("%s: %w", source, err)
	}
	return cfg, source, opts.Initial != nil, nil
}

// revertUnconfirmedLocked undoes, at boot, a confirmed commit that was
// never confirmed before the element went down (RFC 6241 section 8.4.1).
// If the revert cannot be saved the element still runs the reverted
// configuration, and the next boot reverts again.
func (s *Server) revertUnconfirmedLocked(boot *Session) error {
	c, err := s.store.readConfirm()
	if err != nil || c == nil {
		return err
	}
	before, err := s.store.configAt(c.RevertTo)
	if err != nil {
		// The configuration before it is gone from the history (it was
		// never saved, or pruned): nothing to go back to.
		s.log.Error("unconfirmed commit cannot be reverted", "to", c.RevertTo, "err", err)
		return s.store.clearConfirm()
	}
	comment := fmt.Sprintf("boot: confirmed commit not confirmed before the restart, back to %d", c.RevertTo)
	if _, err := s.commitLocked(boot, s.running.Load(), before, nil, comment, true); err != nil {
		s.log.Error("unconfirmed commit reverted in memory only", "err", err)
		if _, err := s.commitLocked(boot, s.running.Load(), before, nil, comment, false); err != nil {
			return err
		}
		return nil
	}
	s.log.Info("unconfirmed commit reverted", "to", c.RevertTo)
	return s.store.clearConfirm()
}

// CommitID is the history ID of the running configuration.
func (s *Server) CommitID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextID
}

// Hub is the event hub front ends subscribe to.
func (s *Server) Hub() *Hub { return s.hub }

// Running returns the running configuration. The tree is shared and must
// not be modified; it is replaced, never changed, by commits.
func (s *Server) Running() *gen.Device { return s.running.Load() }

// Config returns the configuration of a datastore, read-only as Running.
func (s *Server) Config(ds Datastore) (*gen.Device, error) {
	switch ds {
	case Running:
		return s.Running(), nil
	case Candidate:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.candidateLocked(), nil
	case Startup:
		data, err := s.store.readStartup()
		if err != nil {
			return nil, fmt.Errorf("read startup: %w", err)
		}
		if data == nil {
			// Never written: startup reads as what boot would load.
			return s.Running(), nil
		}
		return schema.DecodeJSON(data)
	}
	return nil, schema.Errorf(schema.TagInvalidValue, nil, "unknown datastore %q", ds)
}

func (s *Server) candidateLocked() *gen.Device {
	if s.candidate != nil {
		return s.candidate
	}
	return s.running.Load()
}

// CandidateModified reports whether the candidate holds uncommitted changes.
func (s *Server) CandidateModified() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.candidate != nil
}

// Edit changes datastore ds for session sess: fn receives a private copy of
// the datastore to modify. For running the change then goes through the
// whole commit pipeline; for candidate it is kept until Commit (types are
// checked now, the rest at commit or Validate, as RFC 6241 allows); for
// startup it is validated and written to disk. On any error nothing
// changes.
func (s *Server) Edit(sess *Session, ds Datastore, fn func(root *gen.Device) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	base, err := s.writableBase(sess, ds)
	if err != nil {
		return err
	}
	work, err := schema.Clone(base)
	if err != nil {
		return err
	}
	if err := fn(work); err != nil {
		return err
	}
	return s.storeLocked(sess, ds, base, work, nil)
}

// EditTx is Edit by copy on write: fn changes the datastore through a Tx,
// which copies only what it touches. Front ends that apply client edits
// (NETCONF edit-config, gNMI Set) use it: the cost of an edit then follows
// its size, not the size of the configuration.
func (s *Server) EditTx(sess *Session, ds Datastore, fn func(tx *schema.Tx) error) error {
	return s.runTx(sess, ds, fn, true)
}

// CheckTx runs an edit through a transaction and the whole validation of
// the commit pipeline, then drops it: NETCONF's test-option test-only.
func (s *Server) CheckTx(sess *Session, ds Datastore, fn func(tx *schema.Tx) error) error {
	return s.runTx(sess, ds, fn, false)
}

func (s *Server) runTx(sess *Session, ds Datastore, fn func(tx *schema.Tx) error, store bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	base, err := s.writableBase(sess, ds)
	if err != nil {
		return err
	}
	var tx *schema.Tx
	if ds == Candidate && s.candidate != nil {
		tx = schema.NewTxAfter(base, s.candTouched)
	} else {
		tx = schema.NewTx(base)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if store {
		return s.storeLocked(sess, ds, base, tx.Root(), tx.Touched())
	}
	if err := normalize(tx.Root(), base, tx.Touched()); err != nil {
		return err
	}
	if err := s.deniedWrite(sess, s.authorize(sess, base, tx.Root(), tx.Touched())); err != nil {
		return err
	}
	return s.validateLocked(tx.Root(), tx.Touched())
}

// writableBase checks that sess may write ds and returns its content.
func (s *Server) writableBase(sess *Session, ds Datastore) (*gen.Device, error) {
	if err := s.checkWritable(sess, ds); err != nil {
		return nil, err
	}
	switch ds {
	case Running:
		return s.running.Load(), nil
	case Candidate:
		return s.candidateLocked(), nil
	case Startup:
		return s.Config(Startup)
	}
	return nil, schema.Errorf(schema.TagInvalidValue, nil, "unknown datastore %q", ds)
}

// Replace makes root the whole content of datastore ds (copy-config, gNMI
// replace of the root). root is copied; the caller keeps it.
func (s *Server) Replace(sess *Session, ds Datastore, root *gen.Device) error {
	if ds == Startup && sess.Role >= RoleAdmin && root == s.Running() {
		return s.saveStartup(sess)
	}
	return s.Edit(sess, ds, func(work *gen.Device) error {
		c, err := schema.Clone(root)
		if err != nil {
			return err
		}
		*work = *c
		return nil
	})
}

// saveStartup is copy-config running to startup: running was validated
// when it was committed, and the text of its entries is cached by the
// journal's snapshots, so this costs writing the file, not decoding the
// old startup and validating a copy.
func (s *Server) saveStartup(sess *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkWritable(sess, Startup); err != nil {
		return err
	}
	if done, err := s.store.startupFromSnapshot(s.running.Load()); done || err != nil {
		return err
	}
	data, err := s.saved.Encode(s.running.Load())
	if err != nil {
		return err
	}
	return s.store.writeStartup(data)
}

// storeLocked stores work, edited from base, in ds; touched records the
// list entries the edit changed (nil when unknown).
func (s *Server) storeLocked(sess *Session, ds Datastore, base, work *gen.Device, touched *schema.Touched) error {
	if err := normalize(work, base, touched); err != nil {
		return err
	}
	if err := s.deniedWrite(sess, s.authorize(sess, base, work, touched)); err != nil {
		return err
	}
	switch ds {
	case Running:
		_, err := s.commitLocked(sess, base, work, touched, "")
		return err
	case Candidate:
		if err := schema.ValidateTypes(work); err != nil {
			return err
		}
		s.candidate = work
		s.candTouched = nil
		if touched != nil && touched.Base() == s.running.Load() {
			s.candTouched = touched
		}
		return nil
	default: // Startup
		if err := s.validateLocked(work, nil); err != nil {
			return err
		}
		data, err := schema.EncodeJSON(work)
		if err != nil {
			return err
		}
		return s.store.writeStartup(data)
	}
}

// Commit makes the candidate the running configuration.
func (s *Server) Commit(sess *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkWritable(sess, Running); err != nil {
		return err
	}
	if s.candidate == nil {
		return nil
	}
	// The candidate is shared: it may hold another user's staged edits.
	// The committer publishes all of it, so all of it must be within the
	// committer's rights (an operator does not publish an admin's /system
	// edit under the operator's name).
	if err := s.deniedWrite(sess, s.authorize(sess, s.running.Load(), s.candidate, s.candTouched)); err != nil {
		return err
	}
	if _, err := s.commitLocked(sess, s.running.Load(), s.candidate, s.candTouched, ""); err != nil {
		return err
	}
	s.candidate, s.candTouched = nil, nil
	return nil
}

// Discard drops the uncommitted changes of the candidate.
func (s *Server) Discard(sess *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Exec(sess, "ietf-netconf", "discard-changes"); err != nil {
		return err
	}
	if err := s.checkWritable(sess, Candidate); err != nil {
		return err
	}
	s.candidate, s.candTouched = nil, nil
	return nil
}

// Validate checks the whole content of a datastore, as a commit would,
// without applying it.
func (s *Server) Validate(ds Datastore) error {
	cfg, err := s.Config(ds)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var touched *schema.Touched
	if ds == Candidate && s.candidate == cfg {
		touched = s.candTouched
	}
	return s.validateLocked(cfg, touched)
}

// ValidateTree checks a configuration that is in no datastore (an inline
// <config> of NETCONF validate).
func (s *Server) ValidateTree(cfg *gen.Device) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validateLocked(cfg, nil)
}

// validateLocked checks cfg as a commit would, YANG constraints first,
// then every subsystem's Prepare on what cfg changes from running, each
// followed by Abort: nothing is applied.
func (s *Server) validateLocked(cfg *gen.Device, touched *schema.Touched) error {
	old := s.running.Load()
	if err := schema.Validate(cfg, old, touched); err != nil {
		return err
	}
	if err := validateNACM(cfg, old); err != nil {
		return err
	}
	sets := s.changeSets(old, cfg, schema.Changes(old, cfg, touched))
	prepared, err := s.prepareLocked(sets)
	s.abortLocked(prepared, sets)
	return err
}

// changeSets splits a commit's changes among the subsystems by the
// subtrees they own; a subsystem with nothing changed gets nil.
func (s *Server) changeSets(old, new *gen.Device, changes []schema.Change) []*schema.ChangeSet {
	sets := make([]*schema.ChangeSet, len(s.subs))
	for i, sub := range s.subs {
		owns := sub.Owns()
		var mine []schema.Change
		for _, c := range changes {
			for _, p := range owns {
				if schema.PathsOverlap(p.GetElem(), c.Path.GetElem()) {
					mine = append(mine, c)
					break
				}
			}
		}
		if len(mine) > 0 {
			sets[i] = &schema.ChangeSet{Old: old, New: new, Changes: mine}
		}
	}
	return sets
}

// prepareLocked runs Prepare on each subsystem that has changes, in order,
// and stops at the first failure. It returns how many subsystems (a
// prefix of s.subs) were prepared and must be aborted or applied.
func (s *Server) prepareLocked(sets []*schema.ChangeSet) (int, error) {
	for i, sub := range s.subs {
		if sets[i] == nil {
			continue
		}
		if err := sub.Prepare(sets[i]); err != nil {
			return i, fmt.Errorf("%s: %w", sub.Name(), s.engineError(sub, err))
		}
	}
	return len(s.subs), nil
}

// abortLocked releases what the first n subsystems prepared, last first.
func (s *Server) abortLocked(n int, sets []*schema.ChangeSet) {
	for i := n - 1; i >= 0; i-- {
		if sets[i] != nil {
			s.subs[i].Abort(sets[i])
		}
	}
}

// engineError makes sure a subsystem's refusal is an *schema.Error with a
// path, so that front ends can say where (NETCONF error-path): an error
// without one is placed at the first subtree the subsystem owns.
func (s *Server) engineError(sub Subsystem, err error) error {
	var e *schema.Error
	if errors.As(err, &e) && e.Path != nil {
		return err
	}
	var where *gpb.Path
	if owns := sub.Owns(); len(owns) > 0 {
		where = owns[0]
	}
	if e != nil {
		c := *e
		c.Path = where
		return &c
	}
	return &schema.Error{Tag: schema.TagInvalidValue, AppTag: "semantic-check", Path: where, Message: err.Error(), Err: err}
}

// commitLocked is the transaction of DESIGN.md: validate, compute the
// changes once, Prepare each subsystem that owns some (Abort those
// prepared if one fails: no engine has changed), persist, Apply (which
// cannot fail), switch running, publish the change and then the events the
// engines raised while applying it. touched records the list entries the
// edit changed (nil when unknown). It returns the history ID of the new
// configuration (0 when nothing changed).
func (s *Server) commitLocked(sess *Session, old, new *gen.Device, touched *schema.Touched, comment string, persist ...bool) (uint64, error) {
	if err := s.seal.verify(); err != nil {
		s.log.Error("tree seal broken", "err", err)
		return 0, &schema.Error{Tag: schema.TagOperationFailed, Message: err.Error(), Err: err}
	}
	if hasAdmin(old) && !hasAdmin(new) {
		return 0, schema.Errorf(schema.TagInvalidValue, &gpb.Path{Elem: []*gpb.PathElem{{Name: "system"}, {Name: "aaa"}, {Name: "users"}}},
			"the change would remove the last admin user who can log in; nobody could manage the element")
	}
	// The diff is computed while the tree is validated: both only read
	// the two trees, and a large commit keeps a second processor busy
	// instead of waiting for one to do both. A refused commit drops its
	// diff; the goroutine ends by itself.
	diff := make(chan []schema.Change, 1)
	go func() { diff <- schema.Changes(old, new, touched) }()
	if new != s.trusted {
		if err := schema.Validate(new, old, touched); err != nil {
			return 0, err
		}
	}
	if err := validateNACM(new, old); err != nil {
		return 0, err
	}
	changes := <-diff
	if len(changes) == 0 && s.nextID > 0 {
		return 0, nil
	}
	sets := s.changeSets(old, new, changes)
	prepared, err := s.prepareLocked(sets)
	if err != nil {
		s.abortLocked(prepared, sets)
		return 0, err
	}
	if len(persist) == 0 || persist[0] {
		h := HistoryEntry{ID: s.nextID + 1, Time: time.Now().UTC(), User: sess.User, Transport: sess.Transport, Comment: comment}
		err := s.store.commit(h, changes, new, s.saved.Encode)
		switch {
		case errors.Is(err, errSavedAnyway):
			s.log.Warn("commit saved; journal upkeep failed", "id", h.ID, "err", err)
		case err != nil && errors.Is(err, s.store.broken):
			// The disk may hold this commit: do not claim otherwise.
			s.abortLocked(prepared, sets)
			return 0, &schema.Error{Tag: schema.TagOperationFailed, Message: err.Error(), Err: err}
		case err != nil:
			s.abortLocked(prepared, sets)
			return 0, &schema.Error{Tag: schema.TagOperationFailed, Message: "could not save the configuration; nothing was changed: " + err.Error(), Err: err}
		}
		s.nextID = h.ID
	}
	// Events the engines raise from here on follow the config-change
	// event of this commit.
	s.gate.hold()
	for i, sub := range s.subs {
		if sets[i] != nil {
			sub.Apply(sets[i])
		}
	}
	s.running.Store(new)
	s.seal.set(new)
	s.commits.Add(1)
	s.system.committed(time.Now())
	edits, truncated := summarize(changes, editSummaryMax)
	s.gate.release(events.Event{
		Time: time.Now(),
		Kind: events.ConfigChange,
		Commit: &events.Commit{
			ID: s.nextID, User: sess.User, SessionID: sess.ID, Transport: sess.Transport,
			Edits: edits, Truncated: truncated,
		},
	})
	s.log.Info("commit", "id", s.nextID, "user", sess.User, "transport", sess.Transport, "changes", len(changes), "truncated", truncated)
	return s.nextID, nil
}

// summarize turns the first max changes into the edits of a config-change
// event, in path order, and reports whether there were more.
func summarize(changes []schema.Change, max int) ([]events.Edit, bool) {
	n := min(len(changes), max)
	// The path texts are made once each, not twice per comparison of the
	// sort (which, at 1,000 edits, was 20,000 renderings per commit).
	type keyed struct {
		key  string
		edit events.Edit
	}
	ks := make([]keyed, n)
	for i, c := range changes[:n] {
		ks[i] = keyed{schema.PathString(c.Path), events.Edit{Path: c.Path, Operation: c.Op}}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].key < ks[j].key })
	edits := make([]events.Edit, n)
	for i := range ks {
		edits[i] = ks[i].edit
	}
	return edits, len(changes) > max
}

// History lists the kept committed configurations, newest first.
func (s *Server) History() ([]HistoryEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.historyList(), nil
}

// Rollback commits the configuration of history entry id to running.
func (s *Server) Rollback(sess *Session, id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkWritable(sess, Running); err != nil {
		return err
	}
	cfg, err := s.store.configAt(id)
	if err != nil {
		return err
	}
	if err := s.deniedWrite(sess, s.authorize(sess, s.running.Load(), cfg, nil)); err != nil {
		return err
	}
	_, err = s.commitLocked(sess, s.running.Load(), cfg, nil, fmt.Sprintf("rollback to %d", id))
	return err
}

// State returns a tree holding the state (config false) leaves under paths,
// rendered by the subsystems now. Front ends merge it with a configuration
// tree when a client asks for both.
func (s *Server) State(paths []*gpb.Path) (*gen.Device, error) {
	root := &gen.Device{}
	if schema.Covers(paths, &gpb.PathElem{Name: "nacm"}) {
		s.nacmState(root)
	}
	for _, sub := range s.subs {
		if err := sub.State(root, paths); err != nil {
			return nil, fmt.Errorf("%s state: %w", sub.Name(), err)
		}
	}
	return root, nil
}

// Close stops the subsystems and ends all subscriptions. In test builds
// it also reports a committed tree modified in place.
func (s *Server) Close() error {
	s.RollbackConfirmed("element stopping")
	s.hub.Close()
	err := errors.Join(s.VerifyCommitted(), s.closeSubsystems())
	s.mu.Lock()
	s.store.close()
	s.mu.Unlock()
	return err
}

func (s *Server) closeSubsystems() error {
	var errs []error
	for i := len(s.subs) - 1; i >= 0; i-- {
		if c, ok := s.subs[i].(Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.subs[i].Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}
