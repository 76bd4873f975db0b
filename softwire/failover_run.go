package softwire

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/bindstore"
	"github.com/wirebeat/wirebeat/softwire/failover"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

// This file runs what /softwire/lwaftr/failover asks for next to the
// lwAFTR's workers: the etcd binding store and one failover manager per
// worker (a manager's packet-path state belongs to one engine goroutine).
// The managers never change the shared binding table themselves: a worker
// reads one copy of it for a whole batch, and a writer waiting for that
// batch to end from inside it would wait forever. They queue their
// changes (tableQueue) and a goroutine of their own applies them between
// batches; the held packets are released once the workers see them.
//
// What the element expects of the network (seed 001): the lwAFTRs of a
// set share the anycast address as their internal-interface ip and
// failover/anycast-address; the routers in front of them (or an ECMP
// group) send a B4's traffic to one of them, hashing on the outer IPv6
// header (the B4's address is its source), so a B4 sticks to one lwAFTR
// while the set is stable; when a lwAFTR fails, the routers move its
// share (the test moves the route). A lwAFTR out of service (shutting
// down) stops answering neighbour discovery for the anycast address, so
// an on-link router stops resolving it there, and takes over no B4,
// while it still forwards for the bindings it has. The Internet side
// reaches each lwAFTR's B4 pool by ordinary routing.

// failoverRun is the store and managers of a running lwAFTR.
type failoverRun struct {
	log      *slog.Logger
	store    *bindstore.Store // nil unless the validation source is etcd
	managers []*failover.Manager
	queue    *tableQueue
	stop     chan struct{}
	wg       sync.WaitGroup
	// relay is nil unless dhcpv4-over-dhcpv6-relay is enabled.
	relay *relayRun
	// admin is failover/out-of-service; drain the drain-period.
	admin atomic.Bool
	drain time.Duration
}

// buildFailover makes the store (its client connects in the background:
// an unreachable etcd is reported in state, not refused) and the
// managers of a configuration, for workers engines. Nothing runs on the
// data plane until start. It returns nil when the mode is none.
func buildFailover(log *slog.Logger, dev *gen.Device, workers int, sink events.Sink) (*failoverRun, error) {
	setup, err := FailoverConfig(dev)
	if err != nil {
		return nil, schema.Errorf(schema.TagInvalidValue, swPath(pe("lwaftr"), pe("failover")), "%v", err)
	}
	if setup.Manager.Mode == failover.None {
		return nil, nil
	}
	f := &failoverRun{log: log, queue: newTableQueue(), stop: make(chan struct{}), drain: setup.Drain}
	f.admin.Store(setup.OutOfService)
	var mgrs atomic.Pointer[[]*failover.Manager]
	if setup.Store != nil {
		sc := *setup.Store
		sc.Log = log
		// Removals and changes of bindings in etcd reach every
		// manager; each drops what it created.
		sc.OnChange = func(ev bindstore.Event) {
			if ms := mgrs.Load(); ms != nil {
				for _, m := range *ms {
					m.StoreEvent(ev)
				}
			}
		}
		if f.store, err = bindstore.Open(sc); err != nil {
			return nil, schema.Errorf(schema.TagResourceDenied, swPath(pe("lwaftr"), pe("failover"), pe("validation-source"), pe("etcd")), "%v", err)
		}
	}
	cfg := setup.Manager
	cfg.Log = log
	cfg.Table = f.queue
	cfg.OnCreated, cfg.OnRemoved = FailoverNotificationsFrom(sink, setup.ID)
	// One group for the workers' managers: a binding carrying traffic
	// through any worker stays alive in all.
	cfg.Group = failover.NewGroup()
	// Validator and Writer stay nil interfaces without a store.
	var v failover.Validator
	var w failover.Writer
	var lw *leaseWriter
	if f.store != nil {
		lw = &leaseWriter{st: f.store, next: map[uint64]time.Duration{}}
		v, w = f.store, lw
	}
	for range max(workers, 1) {
		m, err := failover.New(cfg, v, w)
		if err != nil {
			f.close()
			return nil, schema.Errorf(schema.TagInvalidValue, swPath(pe("lwaftr"), pe("failover")), "%v", err)
		}
		m.SetInService(!setup.OutOfService)
		f.managers = append(f.managers, m)
	}
	ms := f.managers
	mgrs.Store(&ms)
	if setup.Relay != nil {
		if err := f.buildRelay(setup.Relay, setup, lw); err != nil {
			f.close()
			return nil, schema.Errorf(schema.TagResourceDenied, swPath(pe("lwaftr"), pe("failover"), pe("dhcpv4-over-dhcpv6-relay")), "%v", err)
		}
	}
	return f, nil
}

// sources are the managers (with the relay's client side) as the
// workers' unknown-source handlers.
func (f *failoverRun) sources() []lwaftr.UnknownSource {
	out := make([]lwaftr.UnknownSource, len(f.managers))
	for i, m := range f.managers {
		out[i] = failoverSource{Manager: m, f: f}
	}
	return out
}

// start applies the managers' table changes to the runner's shared table
// and starts the relay (poke wakes a worker to send its answers).
func (f *failoverRun) start(shared *bindingtable.Shared, poke func()) {
	f.startRelay(poke)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			select {
			case <-f.stop:
				return
			case <-f.queue.ready:
			}
			chs := f.queue.take()
			for len(chs) > 0 {
				n := min(len(chs), changeChunk)
				chunk := chs[:n]
				var refused int
				// Deterministic (both copies of the table see the same
				// changes and refuse the same ones).
				_ = shared.Update(func(t *bindingtable.Table) error {
					refused = 0
					for _, c := range chunk {
						if c.add {
							if t.Add(c.sw) != nil {
								refused++
							}
						} else {
							t.Remove(c.ipv4, c.psid)
						}
					}
					return nil
				})
				if refused > 0 {
					f.queue.refused.Add(uint64(refused))
					f.log.Warn("lwaftr failover: dynamic bindings refused by the table", "count", refused)
				}
				chs = chs[n:]
			}
		}
	}()
}

// setInService tells the managers (and through them the engines'
// neighbour discovery and the relay) whether this lwAFTR serves the
// anycast address; out-of-service by configuration keeps it out.
func (f *failoverRun) setInService(in bool) {
	in = in && !f.admin.Load()
	for _, m := range f.managers {
		m.SetInService(in)
	}
}

// setOutOfService applies failover/out-of-service to a running lwAFTR
// (no restart: the data plane keeps forwarding).
func (f *failoverRun) setOutOfService(out bool) {
	if f.admin.Swap(out) == out {
		return
	}
	f.setInService(true)
	if out {
		f.log.Warn("lwaftr failover: out of service by configuration; no longer answering for the anycast address, still forwarding")
	} else {
		f.log.Info("lwaftr failover: back in service")
	}
}

// close stops the queue's writer, the managers and the store. The
// runner's workers must be stopped first.
func (f *failoverRun) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
	f.closeRelay()
	for _, m := range f.managers {
		m.Close()
	}
	if f.store != nil {
		_ = f.store.Close()
	}
}

// fillState renders failover/state: the managers' counters summed (one
// per worker), their dynamic bindings, and the store's state.
func (f *failoverRun) fillState(lw *gen.WirebeatSoftwire_Softwire_Lwaftr) {
	fo := lw.GetOrCreateFailover()
	FillFailoverState(fo, f.store, f.managers...)
	f.fillRelayState(fo)
}

// maxQueuedChanges bounds the table changes waiting for the writer; a
// binding added beyond it is refused (the manager counts an install
// error and drops the B4's held packets; its next packet tries again).
const maxQueuedChanges = 1 << 16

var errQueueFull = errors.New("binding-table change queue full")

// tableQueue is a failover.TableWriter that never blocks: changes wait
// in a list for the writer goroutine.
type tableQueue struct {
	mu      sync.Mutex
	chs     []bindingChange
	ready   chan struct{}
	refused atomic.Uint64
}

func newTableQueue() *tableQueue { return &tableQueue{ready: make(chan struct{}, 1)} }

func (q *tableQueue) push(c bindingChange, bounded bool) error {
	q.mu.Lock()
	if bounded && len(q.chs) >= maxQueuedChanges {
		q.mu.Unlock()
		return errQueueFull
	}
	q.chs = append(q.chs, c)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil
}

// Add queues sw.
func (q *tableQueue) Add(sw bindingtable.Softwire) error {
	return q.push(bindingChange{add: true, sw: sw}, true)
}

// Remove queues the removal; removals are never refused (there are no
// more of them than dynamic bindings, which max-dynamic-bindings bounds).
func (q *tableQueue) Remove(ipv4 uint32, psid uint16) {
	_ = q.push(bindingChange{ipv4: ipv4, psid: psid}, false)
}

func (q *tableQueue) take() []bindingChange {
	q.mu.Lock()
	defer q.mu.Unlock()
	chs := q.chs
	q.chs = nil
	return chs
}

// workerCount is the number of workers the parts start.
func (e *engineParts) workerCount() int { return 1 + len(e.more) }

// applyService applies a commit that changed only failover/out-of-service
// or drain-period (see serviceOnly) to the running lwAFTR.
func (f *failoverRun) applyService(dev *gen.Device) {
	fo := dev.GetSoftwire().GetLwaftr().GetFailover()
	f.drain = time.Duration(fo.GetDrainPeriod()) * time.Second
	f.setOutOfService(fo.GetOutOfService())
}

// serviceOnly reports whether the changes of cs outside the binding
// table are all to failover/out-of-service or failover/drain-period:
// those apply to the running lwAFTR without a restart (a restart would
// interrupt the forwarding a drain is meant to keep).
func serviceOnly(cs *schema.ChangeSet) bool {
	any := false
	for _, c := range cs.Changes {
		if _, ok, _ := bindingKey(c.Path); ok || !isLwaftrPath(c.Path) {
			continue
		}
		e := c.Path.GetElem()
		if len(e) != 4 || e[2].Name != "failover" || (e[3].Name != "out-of-service" && e[3].Name != "drain-period") {
			return false
		}
		any = true
	}
	return any
}
