package softwire

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

// Link is a packet interface the data plane reads and writes: a
// pktio.Port on a live interface (batched, zero-copy receive through the
// port's rings), or any frame link (an in-memory pipe in tests), which
// the runner adapts with pktio.Adapt.
type Link = pktio.FrameLink

// batchesInFlight is how many received batches a reader may have handed
// to its worker before it waits for one back.
const batchesInFlight = 4

// rxBatch is one receive's frames, passed from a reader goroutine to its
// worker and back for reuse.
type rxBatch struct {
	port lwaftr.Port
	b    *pktio.Batch
}

// bindingChange is one softwire to add (sw set) or remove.
type bindingChange struct {
	add  bool
	sw   bindingtable.Softwire
	ipv4 uint32
	psid uint16
}

// changeChunk bounds the binding changes applied at once, so a large
// commit does not hold a worker up (one worker) or keep the writer from
// the next chunk for long (several).
const changeChunk = 4096

// runner owns the lwAFTR's workers: each an engine with its own ports
// (its own rings: a PACKET_FANOUT member, or a queue), all reading one
// binding table (bindingtable.Shared) that the runner changes without
// stopping them. Counters are per worker and summed on read.
type runner struct {
	log     *slog.Logger
	stick   bool
	shared  *bindingtable.Shared
	workers []*worker
	// nh is the next-hop MAC of each side once a worker has learnt it:
	// ARP and NDP answers reach one worker only.
	nh   [2]atomic.Pointer[[6]byte]
	stop chan struct{}
	wg   sync.WaitGroup
	// unknown is each worker's handler of unknown sources (failover),
	// installed before the worker starts.
	unknown []lwaftr.UnknownSource
	// wake makes worker 0 run its handler's Poll now (the relay has an
	// answer to send), not at the next tick.
	wake chan struct{}
}

// poke asks worker 0 for a Poll soon; it never blocks.
func (r *runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// runnerOption sets up a runner before its workers start.
type runnerOption func(*runner)

// withUnknownSources gives worker i the handler u[i].
func withUnknownSources(u []lwaftr.UnknownSource) runnerOption {
	return func(r *runner) { r.unknown = u }
}

// worker is one engine and its goroutines. Only its loop touches the
// engine.
type worker struct {
	r          *runner
	id         int
	eng        *lwaftr.Engine
	reader     *bindingtable.Reader
	links      [2]Link // on-a-stick: both the same
	ports      [2]pktio.Port
	in         chan *rxBatch
	free       [2]chan *rxBatch
	counters   chan chan workerSnap
	sendWarned bool
}

// snapshot is what State reads from the data plane.
type snapshot struct {
	C        lwaftr.Counters
	Bindings int
	NHMAC    [2][6]byte
	NHKnown  [2]bool
	// Ports are the packet I/O counters of each side (summed over the
	// workers) and the driver moving its frames; on-a-stick both sides
	// are the same port.
	Ports     [2]pktio.Stats
	Drivers   [2]string
	Fallbacks [2]string
	Workers   int
}

type workerSnap struct {
	C       lwaftr.Counters
	NHMAC   [2][6]byte
	NHKnown [2]bool
}

// portSender queues a worker's frames on its ports' transmit rings; the
// worker kicks them once per batch.
type portSender struct{ w *worker }

func (s portSender) Send(p lwaftr.Port, frame []byte) {
	if !s.w.ports[p].Send(frame) && !s.w.sendWarned {
		s.w.sendWarned = true
		s.w.r.log.Warn("lwaftr: transmit dropped a frame (ring full or frame too big); see the port counters",
			"side", p.String(), "worker", s.w.id, "driver", s.w.ports[p].Driver())
	}
}

// startRunner runs one worker on links.
func startRunner(log *slog.Logger, cfg lwaftr.Config, bt *bindingtable.Table, links [2]Link) (*runner, error) {
	return startWorkers(log, cfg, bt, [][2]Link{links})
}

// startWorkers runs one worker per element of links (each the external
// and internal link of that worker; on-a-stick the same link twice).
func startWorkers(log *slog.Logger, cfg lwaftr.Config, bt *bindingtable.Table, links [][2]Link, opts ...runnerOption) (*runner, error) {
	r := &runner{log: log, stick: cfg.OnAStick, stop: make(chan struct{}), shared: bindingtable.NewShared(bt, len(links)),
		wake: make(chan struct{}, 1)}
	for _, o := range opts {
		o(r)
	}
	maxFrame := max(cfg.External.MTU, cfg.Internal.MTU, 1500) + 64
	for i, ls := range links {
		w := &worker{r: r, id: i, links: ls, reader: r.shared.Reader(i), in: make(chan *rxBatch, 2*batchesInFlight),
			counters: make(chan chan workerSnap)}
		for p, l := range ls {
			w.ports[p] = pktio.Adapt(l, maxFrame)
		}
		eng, err := lwaftr.New(cfg, bt, portSender{w})
		if err != nil {
			return nil, err
		}
		if i < len(r.unknown) && r.unknown[i] != nil {
			eng.SetUnknownSource(r.unknown[i])
		}
		w.eng = eng
		r.workers = append(r.workers, w)
	}
	for _, w := range r.workers {
		readers := []lwaftr.Port{lwaftr.External, lwaftr.Internal}
		if cfg.OnAStick {
			readers = readers[1:]
		}
		for _, p := range readers {
			w.free[p] = make(chan *rxBatch, batchesInFlight)
			for range batchesInFlight {
				w.free[p] <- &rxBatch{port: p, b: pktio.NewBatch(pktio.DefaultBatch)}
			}
			r.wg.Add(1)
			go w.read(p)
		}
		r.wg.Add(1)
		go w.loop()
	}
	r.wg.Add(1)
	go r.migrate()
	return r, nil
}

// read moves batches of frames from one port to the worker.
func (w *worker) read(p lwaftr.Port) {
	defer w.r.wg.Done()
	port := w.ports[p]
	for {
		var b *rxBatch
		select {
		case b = <-w.free[p]:
		case <-w.r.stop:
			return
		}
		for {
			err := port.Receive(b.b)
			select {
			case <-w.r.stop:
				port.Release(b.b)
				return
			default:
			}
			if err != nil {
				w.r.log.Warn("lwaftr: receive failed", "side", p.String(), "worker", w.id, "driver", port.Driver(), "err", err)
				port.Release(b.b)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if b.b.Len() > 0 {
				break
			}
		}
		select {
		case w.in <- b:
		case <-w.r.stop:
			return
		}
	}
}

// loop is the worker goroutine: batches, counter snapshots, and (worker
// 0) the periodic neighbour resolution.
func (w *worker) loop() {
	defer w.r.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var wake chan struct{} // nil (never ready) but for worker 0
	if w.id == 0 {
		w.run(func() { w.eng.Start() })
		wake = w.r.wake
	}
	for {
		select {
		case b := <-w.in:
			w.run(func() {
				if w.r.stick {
					for _, f := range b.b.Frames {
						w.eng.ReceiveStick(f)
					}
				} else {
					w.eng.ReceiveBatch(b.port, b.b.Frames)
				}
			})
			w.ports[b.port].Release(b.b)
			w.free[b.port] <- b
		case reply := <-w.counters:
			s := workerSnap{C: w.eng.C}
			for p := range 2 {
				s.NHMAC[p], s.NHKnown[p] = w.eng.NextHopMAC(lwaftr.Port(p))
			}
			reply <- s
		case <-wake:
			w.run(func() {}) // the failover handler's Poll
		case <-tick.C:
			if w.id == 0 {
				w.run(func() { w.eng.Start() }) // asks again for next hops still unresolved
			} else if w.id < len(w.r.unknown) {
				w.run(func() {}) // the failover handler's Poll, traffic or not
			}
		case <-w.r.stop:
			return
		}
	}
}

// run does engine work inside one batch of the shared table, with the
// next hops the other workers learnt, and hands the output to the ports.
func (w *worker) run(fn func()) {
	var known [2]bool
	for p := range 2 {
		_, known[p] = w.eng.NextHopMAC(lwaftr.Port(p))
		if m := w.r.nh[p].Load(); m != nil && !known[p] {
			w.eng.SetNextHopMAC(lwaftr.Port(p), *m)
			known[p] = true
		}
	}
	w.eng.SetSharedTable(w.reader.Enter())
	fn()
	w.flush()
	w.reader.Leave()
	for p := range 2 {
		if m, ok := w.eng.NextHopMAC(lwaftr.Port(p)); ok && !known[p] {
			w.r.nh[p].Store(&m)
		}
	}
}

// flush hands the engine's queued frames to the ports and kicks each
// port's transmit once.
func (w *worker) flush() {
	w.eng.Flush()
	for i, p := range w.ports {
		if err := p.Flush(); err != nil && !w.sendWarned {
			w.sendWarned = true
			w.r.log.Warn("lwaftr: transmit failed", "side", lwaftr.Port(i).String(), "worker", w.id, "err", err)
		}
		if w.r.stick {
			break
		}
	}
}

// migrate moves a binding-table growth on while no change does (each
// change moves it a step too).
func (r *runner) migrate() {
	defer r.wg.Done()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			growing := false
			r.shared.View(func(t *bindingtable.Table) { growing = t.Growing() })
			if growing {
				_ = r.shared.Update(func(t *bindingtable.Table) error { t.Migrate(4096); return nil })
			}
		case <-r.stop:
			return
		}
	}
}

// portStats returns the counters (summed over the workers) and driver of
// each side's ports.
func (r *runner) portStats() ([2]pktio.Stats, [2]string) {
	st, drv, _ := r.portState()
	return st, drv
}

// portState is portStats with the drivers' fallback reasons.
func (r *runner) portState() ([2]pktio.Stats, [2]string, [2]string) {
	var st [2]pktio.Stats
	var drv, fb [2]string
	for _, w := range r.workers {
		for i, p := range w.ports {
			if r.stick && i == 1 {
				st[1], drv[1], fb[1] = st[0], drv[0], fb[0]
				break
			}
			st[i].Add(p.Stats())
			drv[i] = p.Driver()
			if f := p.Fallback(); f != "" {
				fb[i] = f
			}
		}
	}
	return st, drv, fb
}

// change applies binding changes in chunks, traffic flowing meanwhile.
// Adds were validated before the commit; an error leaves earlier
// changes applied, and the caller reverts by applying the inverse.
func (r *runner) change(chs []bindingChange) error {
	for len(chs) > 0 {
		n := min(len(chs), changeChunk)
		chunk := chs[:n]
		err := r.shared.Update(func(t *bindingtable.Table) error {
			for _, c := range chunk {
				if c.add {
					if err := t.Add(c.sw); err != nil {
						return err
					}
				} else {
					t.Remove(c.ipv4, c.psid)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		chs = chs[n:]
	}
	return nil
}

// snapshot reads the counters of every worker and sums them; a runner
// being closed meanwhile yields an empty snapshot rather than a hang.
func (r *runner) snapshot() snapshot {
	var s snapshot
	s.Workers = len(r.workers)
	for _, w := range r.workers {
		reply := make(chan workerSnap, 1)
		select {
		case w.counters <- reply:
		case <-r.stop:
			return snapshot{}
		}
		ws := <-reply
		s.C.Add(&ws.C)
		for p := range 2 {
			if ws.NHKnown[p] && !s.NHKnown[p] {
				s.NHMAC[p], s.NHKnown[p] = ws.NHMAC[p], true
			}
		}
	}
	r.shared.View(func(t *bindingtable.Table) { s.Bindings = t.Len() })
	s.Ports, s.Drivers, s.Fallbacks = r.portState()
	return s
}

// close stops the goroutines (readers wake within their poll timeout),
// then closes the links.
func (r *runner) close() {
	close(r.stop)
	r.wg.Wait()
	for _, w := range r.workers {
		for _, l := range w.links {
			if l != nil {
				l.Close()
			}
			if r.stick {
				break
			}
		}
	}
}
