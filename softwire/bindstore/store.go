// Package bindstore is the lwAFTR's view of the bindings kept in etcd, the
// supporting system of anycast failover (seed 001, data-packet trigger):
// one key per softwire, PREFIX<ipv4>/<psid> → the RFC 7951 JSON of one
// binding-table/softwire entry, dynamic ones with an etcd lease.
//
// Every lwAFTR of a set holds a local cache of all bindings, loaded once
// and kept fresh by a watch, so validating an unknown B4 is a local lookup
// in the common case; a miss asks etcd directly (the primary may have
// written the binding a moment ago). Entries that are malformed, or whose
// port set overlaps one already installed, are refused with a counter and
// a log line and never enter the cache. When etcd cannot be reached the
// cache keeps answering for what it knows, misses are refused, and State
// says so.
package bindstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
)

// Config says where the bindings are.
type Config struct {
	Endpoints []string
	// Prefix of every key; DefaultPrefix when empty.
	Prefix string
	// TLS, when set, is used to reach the endpoints.
	TLS      *tls.Config
	Username string
	Password string
	// QueryTimeout bounds one request to etcd (a cache miss, a write).
	QueryTimeout time.Duration
	// HealthInterval is how often reachability is checked.
	HealthInterval time.Duration
	// LoadPage is how many keys one request of the initial load reads
	// (default 100,000). Large pages matter: etcd 3.4 walks the whole
	// rest of the range for every page, so small pages make the load
	// quadratic (1M bindings in pages of 10,000 took 66 s here).
	LoadPage int64
	Log      *slog.Logger
	// OnChange, when set, is called for each binding the cache installs
	// or removes, in revision order, from the store's goroutine.
	OnChange func(Event)
}

// EventKind says what happened to a binding in the cache.
type EventKind int

// Kinds of change.
const (
	Installed EventKind = iota
	Removed
)

// Event is one change of the cache.
type Event struct {
	Kind    EventKind
	Binding Binding
	Lease   int64
}

// ErrUnreachable is returned for a cache miss while etcd cannot be
// reached: the binding is unknown and cannot be confirmed.
var ErrUnreachable = errors.New("binding store unreachable")

// ErrExists is returned by Create when another B4 holds the key.
var ErrExists = errors.New("binding exists for another b4")

// Counters of the store, all monotonic.
type Counters struct {
	Installed        atomic.Uint64 // entries put into the cache
	Removed          atomic.Uint64 // entries taken out of the cache
	RefusedMalformed atomic.Uint64 // values or keys that are not a binding
	RefusedOverlap   atomic.Uint64 // entries whose port set overlaps another
	CacheHits        atomic.Uint64 // validations answered from the cache
	CacheMisses      atomic.Uint64 // validations that asked etcd
	QueryErrors      atomic.Uint64 // requests to etcd that failed
	Loads            atomic.Uint64 // full loads of the prefix (start, compaction)
	WatchEvents      atomic.Uint64 // events received by the watch
}

// State is what the store reports.
type State struct {
	Reachable   bool
	LastError   string
	LastContact time.Time
	Synced      bool // the initial load is done
	Entries     int
	Revision    int64
	Endpoints   []string
	Prefix      string
}

type entry struct {
	b     Binding
	lease int64
	rev   int64
}

// addrSplit is the port-set split of one address and how many cached
// entries use it.
type addrSplit struct {
	ps   bindingtable.PortSet
	refs int
}

// Store is the cache with its etcd client.
type Store struct {
	cfg Config
	cli *clientv3.Client
	log *slog.Logger

	mu      sync.RWMutex
	entries map[uint64]entry
	addrs   map[uint32]addrSplit
	// refused holds entries refused for overlap, retried when the entries
	// of their address change.
	refused map[uint64]entry
	rev     int64

	reachable   atomic.Bool
	synced      atomic.Bool
	lastContact atomic.Int64
	errMu       sync.Mutex
	lastErr     string

	ready  chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	C Counters
}

func ckey(ipv4 uint32, psid uint16) uint64 { return uint64(ipv4)<<16 | uint64(psid) }

// Open makes the client and starts loading and watching in the
// background; it does not wait for etcd (see WaitSynced).
func Open(cfg Config) (*Store, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("bindstore: no etcd endpoints")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = time.Second
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = time.Second
	}
	if cfg.LoadPage <= 0 {
		cfg.LoadPage = 100000
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.QueryTimeout,
		TLS:         cfg.TLS,
		Username:    cfg.Username,
		Password:    cfg.Password,
		Logger:      zap.NewNop(),
		// Keepalives notice a dead member even without traffic.
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: time.Second,
		MaxCallRecvMsgSize:   64 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("bindstore: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{cfg: cfg, cli: cli, log: cfg.Log.With("component", "bindstore"),
		entries: map[uint64]entry{}, addrs: map[uint32]addrSplit{}, refused: map[uint64]entry{},
		ready: make(chan struct{}), ctx: ctx, cancel: cancel}
	s.setErr("not yet contacted")
	s.wg.Add(2)
	go s.run()
	go s.health()
	return s, nil
}

// Close stops the watch and closes the client.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.cli.Close()
}

// Prefix returns the key prefix in use.
func (s *Store) Prefix() string { return s.cfg.Prefix }

// WaitSynced waits until the initial load is done.
func (s *Store) WaitSynced(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) setErr(e string) {
	s.errMu.Lock()
	s.lastErr = e
	s.errMu.Unlock()
}

// contact records the outcome of a request to etcd.
func (s *Store) contact(err error) {
	if err == nil {
		s.lastContact.Store(time.Now().UnixNano())
		if !s.reachable.Swap(true) {
			s.log.Info("etcd reachable", "endpoints", s.cfg.Endpoints)
		}
		s.setErr("")
		return
	}
	if s.ctx.Err() != nil {
		return
	}
	s.C.QueryErrors.Add(1)
	s.setErr(err.Error())
	if s.reachable.Swap(false) {
		s.log.Warn("etcd unreachable; known bindings keep forwarding, unknown ones are refused", "err", err)
	}
}

// State reports reachability and the cache.
func (s *Store) State() State {
	s.mu.RLock()
	n, rev := len(s.entries), s.rev
	s.mu.RUnlock()
	s.errMu.Lock()
	le := s.lastErr
	s.errMu.Unlock()
	st := State{Reachable: s.reachable.Load(), LastError: le, Synced: s.synced.Load(), Entries: n, Revision: rev,
		Endpoints: append([]string(nil), s.cfg.Endpoints...), Prefix: s.cfg.Prefix}
	if t := s.lastContact.Load(); t != 0 {
		st.LastContact = time.Unix(0, t)
	}
	return st
}

// health checks reachability with a linearizable read (it needs a quorum,
// so a minority partition counts as unreachable).
func (s *Store) health() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.HealthInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.QueryTimeout)
		_, err := s.cli.Get(ctx, s.cfg.Prefix, clientv3.WithCountOnly())
		cancel()
		s.contact(err)
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// run loads the prefix, then watches it; a watch that loses history
// (compaction) or fails starts over.
func (s *Store) run() {
	defer s.wg.Done()
	backoff := 100 * time.Millisecond
	for s.ctx.Err() == nil {
		rev, err := s.load()
		s.contact(err)
		if err != nil {
			s.log.Debug("load failed", "err", err)
			if !s.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if !s.synced.Swap(true) {
			close(s.ready)
		}
		for s.ctx.Err() == nil {
			next, err := s.watch(rev + 1)
			if errors.Is(err, rpctypes.ErrCompacted) {
				s.log.Warn("watch history compacted; reloading", "revision", rev+1)
				break
			}
			rev = next
			if err != nil {
				s.log.Debug("watch ended", "err", err)
			}
			if !s.sleep(backoff) {
				return
			}
		}
	}
}

func (s *Store) sleep(d time.Duration) bool {
	select {
	case <-s.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// load reads every key of the prefix at one revision, in pages, and
// replaces the cache with the result.
func (s *Store) load() (int64, error) {
	s.C.Loads.Add(1)
	end := clientv3.GetPrefixRangeEnd(s.cfg.Prefix)
	key := s.cfg.Prefix
	var rev int64
	type kv struct {
		k     string
		v     []byte
		lease int64
		rev   int64
	}
	var all []kv
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(s.cfg.LoadPage),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*s.cfg.QueryTimeout)
		resp, err := s.cli.Get(ctx, key, opts...)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("load %s: %w", s.cfg.Prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
			all = make([]kv, 0, resp.Count)
		}
		for _, x := range resp.Kvs {
			all = append(all, kv{string(x.Key), x.Value, x.Lease, x.ModRevision})
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	// Build the new cache aside, then swap: lookups meanwhile see the
	// old one.
	entries := make(map[uint64]entry, len(all))
	addrs := make(map[uint32]addrSplit, len(all)/4+1)
	refused := map[uint64]entry{}
	for _, x := range all {
		e, ok := s.parse(x.k, x.v, x.lease, x.rev)
		if !ok {
			continue
		}
		install(entries, addrs, refused, e, s)
	}
	s.mu.Lock()
	old := s.entries
	s.entries, s.addrs, s.refused, s.rev = entries, addrs, refused, rev
	s.mu.Unlock()
	s.emitDiff(old, entries)
	s.log.Info("bindings loaded", "entries", len(entries), "revision", rev)
	return rev, nil
}

// emitDiff reports what a reload changed.
func (s *Store) emitDiff(old, cur map[uint64]entry) {
	if s.cfg.OnChange == nil {
		return
	}
	for k, e := range old {
		if n, ok := cur[k]; !ok || n.b != e.b {
			s.cfg.OnChange(Event{Kind: Removed, Binding: e.b, Lease: e.lease})
		}
	}
	for k, e := range cur {
		if o, ok := old[k]; !ok || o.b != e.b {
			s.cfg.OnChange(Event{Kind: Installed, Binding: e.b, Lease: e.lease})
		}
	}
}

// parse decodes one key and value; a bad one is counted and logged.
func (s *Store) parse(k string, v []byte, lease, rev int64) (entry, bool) {
	ipv4, psid, err := ParseKey(s.cfg.Prefix, k)
	if err == nil {
		var b Binding
		if b, err = Decode(ipv4, psid, v); err == nil {
			return entry{b: b, lease: lease, rev: rev}, true
		}
	}
	s.C.RefusedMalformed.Add(1)
	s.log.Warn("binding refused: malformed", "key", k, "err", err)
	return entry{}, false
}

// install puts e into the maps unless its port set overlaps the entries
// already there for its address (every softwire of an address must split
// the ports the same way, as in the binding table: a different split makes
// the port sets overlap or leaves the table unable to look them up).
// It reports whether e was installed.
func install(entries map[uint64]entry, addrs map[uint32]addrSplit, refused map[uint64]entry, e entry, s *Store) bool {
	k := ckey(e.b.IPv4, e.b.PSID)
	a, aok := addrs[e.b.IPv4]
	_, had := entries[k]
	if aok && a.ps != e.b.PortSet && !(had && a.refs == 1) {
		refused[k] = e
		if s != nil {
			s.C.RefusedOverlap.Add(1)
			s.log.Warn("binding refused: port set overlaps another softwire of the address",
				"key", Key(s.cfg.Prefix, e.b.IPv4, e.b.PSID),
				"psid-offset", e.b.PortSet.Offset, "psid-length", e.b.PortSet.Length,
				"installed-psid-offset", a.ps.Offset, "installed-psid-length", a.ps.Length)
		}
		return false
	}
	delete(refused, k)
	if !had {
		a.refs++
	}
	a.ps = e.b.PortSet
	addrs[e.b.IPv4] = a
	entries[k] = e
	if s != nil {
		s.C.Installed.Add(1)
	}
	return true
}

// uninstall removes the entry of k and reports what it was.
func uninstall(entries map[uint64]entry, addrs map[uint32]addrSplit, k uint64) (entry, bool) {
	e, ok := entries[k]
	if !ok {
		return e, false
	}
	delete(entries, k)
	a := addrs[e.b.IPv4]
	if a.refs--; a.refs <= 0 {
		delete(addrs, e.b.IPv4)
	} else {
		addrs[e.b.IPv4] = a
	}
	return e, true
}

// watch follows the prefix from rev and returns the next revision to
// watch from when it ends.
func (s *Store) watch(rev int64) (int64, error) {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(s.ctx))
	defer cancel()
	wch := s.cli.Watch(ctx, s.cfg.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev), clientv3.WithProgressNotify())
	last := rev - 1
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return last, err
		}
		s.contact(nil)
		if resp.IsProgressNotify() {
			last = max(last, resp.Header.Revision)
			continue
		}
		var evs []Event
		s.mu.Lock()
		for _, ev := range resp.Events {
			s.C.WatchEvents.Add(1)
			evs = s.applyLocked(ev, evs)
			last = max(last, ev.Kv.ModRevision)
		}
		s.rev = max(s.rev, last)
		s.mu.Unlock()
		if s.cfg.OnChange != nil {
			for _, e := range evs {
				s.cfg.OnChange(e)
			}
		}
	}
	return last, s.ctx.Err()
}

// applyLocked applies one watch event to the cache.
func (s *Store) applyLocked(ev *clientv3.Event, evs []Event) []Event {
	k := string(ev.Kv.Key)
	ipv4, psid, kerr := ParseKey(s.cfg.Prefix, k)
	ck := ckey(ipv4, psid)
	if ev.Type == mvccpb.DELETE {
		if kerr != nil {
			return evs
		}
		delete(s.refused, ck)
		if e, ok := uninstall(s.entries, s.addrs, ck); ok {
			s.C.Removed.Add(1)
			evs = append(evs, Event{Kind: Removed, Binding: e.b, Lease: e.lease})
			evs = s.retryRefusedLocked(ipv4, evs)
		}
		return evs
	}
	e, ok := s.parse(k, ev.Kv.Value, ev.Kv.Lease, ev.Kv.ModRevision)
	if !ok {
		// The key now holds something that is not a binding: whatever it
		// held before no longer stands either.
		if kerr == nil {
			delete(s.refused, ck)
			if old, had := uninstall(s.entries, s.addrs, ck); had {
				s.C.Removed.Add(1)
				evs = append(evs, Event{Kind: Removed, Binding: old.b, Lease: old.lease})
				evs = s.retryRefusedLocked(ipv4, evs)
			}
		}
		return evs
	}
	old, had := s.entries[ck]
	if install(s.entries, s.addrs, s.refused, e, s) {
		if had && old.b != e.b {
			evs = append(evs, Event{Kind: Removed, Binding: old.b, Lease: old.lease})
		}
		// A new lease on the same binding is a new provisioning: it is
		// reported too.
		if !had || old.b != e.b || old.lease != e.lease {
			evs = append(evs, Event{Kind: Installed, Binding: e.b, Lease: e.lease})
		}
	} else if had {
		// Refused replacement of an existing key: the old value is gone
		// from etcd, so it goes from the cache too.
		uninstall(s.entries, s.addrs, ck)
		s.C.Removed.Add(1)
		evs = append(evs, Event{Kind: Removed, Binding: old.b, Lease: old.lease})
	}
	return evs
}

// retryRefusedLocked installs refused entries of ipv4 that fit now.
func (s *Store) retryRefusedLocked(ipv4 uint32, evs []Event) []Event {
	for k, e := range s.refused {
		if e.b.IPv4 != ipv4 {
			continue
		}
		if _, busy := s.addrs[ipv4]; busy && s.addrs[ipv4].ps != e.b.PortSet {
			continue
		}
		delete(s.refused, k)
		if install(s.entries, s.addrs, s.refused, e, nil) {
			s.C.Installed.Add(1)
			evs = append(evs, Event{Kind: Installed, Binding: e.b, Lease: e.lease})
		}
	}
	return evs
}

// Lookup finds the cached binding that owns (ipv4, port).
func (s *Store) Lookup(ipv4 uint32, port uint16) (Binding, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.addrs[ipv4]
	if !ok {
		return Binding{}, false
	}
	e, ok := s.entries[ckey(ipv4, a.ps.PSID(port))]
	return e.b, ok
}

// Len is the number of cached bindings.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// Result of a validation.
type Result int

// Validation outcomes.
const (
	Valid    Result = iota // the store has this binding for this B4
	NotFound               // no binding owns the address and port
	WrongB4                // a binding owns them, for another B4
)

func (r Result) String() string {
	return [...]string{"valid", "not-found", "wrong-b4"}[r]
}

// Validate says whether B4 b4 owns (ipv4, port): from the cache when it
// knows the address and port, else by asking etcd (ErrUnreachable when
// etcd cannot answer). It may block for up to QueryTimeout.
func (s *Store) Validate(ctx context.Context, b4 [16]byte, ipv4 uint32, port uint16) (Binding, Result, error) {
	if b, ok := s.Lookup(ipv4, port); ok {
		s.C.CacheHits.Add(1)
		if b.B4 != b4 {
			return b, WrongB4, nil
		}
		return b, Valid, nil
	}
	s.C.CacheMisses.Add(1)
	if !s.reachable.Load() && s.synced.Load() {
		return Binding{}, NotFound, ErrUnreachable
	}
	b, ok, err := s.query(ctx, ipv4, port)
	if err != nil {
		return Binding{}, NotFound, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if !ok {
		return Binding{}, NotFound, nil
	}
	if b.B4 != b4 {
		return b, WrongB4, nil
	}
	return b, Valid, nil
}

// query reads the softwires of ipv4 from etcd and returns the one owning
// port. Malformed entries are ignored here (the watch counts them); the
// answer is not put in the cache, which only the watch fills, so a delete
// racing with this read cannot bring an entry back.
func (s *Store) query(ctx context.Context, ipv4 uint32, port uint16) (Binding, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, AddressPrefix(s.cfg.Prefix, ipv4), clientv3.WithPrefix(), clientv3.WithLimit(1<<16+1))
	s.contact(err)
	if err != nil {
		return Binding{}, false, err
	}
	var found []Binding
	for _, kv := range resp.Kvs {
		a, p, err := ParseKey(s.cfg.Prefix, string(kv.Key))
		if err != nil {
			continue
		}
		b, err := Decode(a, p, kv.Value)
		if err != nil {
			continue
		}
		found = append(found, b)
	}
	for _, b := range found {
		if b.PortSet.PSID(port) == b.PSID {
			// Entries of one address with different splits overlap:
			// refuse to pick one of them.
			for _, o := range found {
				if o.PortSet != b.PortSet {
					return Binding{}, false, nil
				}
			}
			return b, true, nil
		}
	}
	return Binding{}, false, nil
}

// Create writes a dynamic binding with a lease of ttl (none when ttl is
// 0), unless the key exists: if it holds the same B4 the existing lease is
// returned, otherwise ErrExists.
func (s *Store) Create(ctx context.Context, b Binding, ttl time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	key := Key(s.cfg.Prefix, b.IPv4, b.PSID)
	var opts []clientv3.OpOption
	var lease clientv3.LeaseID
	if ttl > 0 {
		g, err := s.cli.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
		s.contact(err)
		if err != nil {
			return 0, fmt.Errorf("grant lease: %w", err)
		}
		lease = g.ID
		opts = append(opts, clientv3.WithLease(lease))
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(Encode(b)), opts...)).
		Else(clientv3.OpGet(key)).Commit()
	s.contact(err)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", key, err)
	}
	if resp.Succeeded {
		return int64(lease), nil
	}
	if lease != 0 {
		_, _ = s.cli.Revoke(ctx, lease)
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 1 {
		if cur, err := Decode(b.IPv4, b.PSID, kvs[0].Value); err == nil && cur.B4 == b.B4 {
			return kvs[0].Lease, nil
		}
	}
	return 0, fmt.Errorf("%s: %w", key, ErrExists)
}

// Put writes a binding unconditionally, with a lease of ttl when ttl > 0
// (what a provisioning system does).
func (s *Store) Put(ctx context.Context, b Binding, ttl time.Duration) (int64, error) {
	return s.PutRaw(ctx, Key(s.cfg.Prefix, b.IPv4, b.PSID), Encode(b), ttl)
}

// PutRaw writes any value under any key (tests and tools).
func (s *Store) PutRaw(ctx context.Context, key string, value []byte, ttl time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var opts []clientv3.OpOption
	var lease clientv3.LeaseID
	if ttl > 0 {
		g, err := s.cli.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
		s.contact(err)
		if err != nil {
			return 0, fmt.Errorf("grant lease: %w", err)
		}
		lease = g.ID
		opts = append(opts, clientv3.WithLease(lease))
	}
	_, err := s.cli.Put(ctx, key, string(value), opts...)
	s.contact(err)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return int64(lease), nil
}

// Refresh renews a lease once (a dynamic binding still in use).
func (s *Store) Refresh(ctx context.Context, lease int64) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	_, err := s.cli.KeepAliveOnce(ctx, clientv3.LeaseID(lease))
	s.contact(err)
	return err
}

// Delete removes the binding of (ipv4, psid).
func (s *Store) Delete(ctx context.Context, ipv4 uint32, psid uint16) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	_, err := s.cli.Delete(ctx, Key(s.cfg.Prefix, ipv4, psid))
	s.contact(err)
	return err
}

// LeaseOf returns the lease of the cached binding of (ipv4, psid), 0 when
// it has none, and whether the cache has the binding: a lwAFTR that took
// over a B4 keeps that lease alive while the binding carries traffic.
func (s *Store) LeaseOf(ipv4 uint32, psid uint16) (int64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[ckey(ipv4, psid)]
	return e.lease, ok
}

// keepAliveParallel bounds the KeepAliveOnce requests of one KeepAlive
// in flight at once.
const keepAliveParallel = 8

// KeepAlive renews each lease once (KeepAliveOnce), a few in parallel:
// the leases of dynamic bindings used since the last renewal, renewed
// once per sweep of the caller rather than per packet. It returns how
// many were renewed, the leases etcd no longer has (those bindings are
// gone from etcd, or about to be), and the first other error.
func (s *Store) KeepAlive(ctx context.Context, leases []int64) (int, []int64, error) {
	type answer struct {
		lease int64
		err   error
	}
	work := make(chan int64)
	answers := make(chan answer)
	var wg sync.WaitGroup
	for range min(keepAliveParallel, len(leases)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range work {
				answers <- answer{l, s.Refresh(ctx, l)}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, l := range leases {
			select {
			case work <- l:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(answers) }()
	var ok int
	var gone []int64
	var first error
	for a := range answers {
		switch {
		case a.err == nil:
			ok++
		case errors.Is(a.err, rpctypes.ErrLeaseNotFound):
			gone = append(gone, a.lease)
		case first == nil:
			first = a.err
		}
	}
	return ok, gone, first
}
