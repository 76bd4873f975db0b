package dslite

import (
	"context"
	"sync"
	"time"

	"github.com/wirebeat/wirebeat/pktio"
)

// Port is a packet interface of the shared packet-I/O layer: batches
// received without copying, frames queued and sent with one flush per
// batch.
type Port = pktio.Port

// Runner drives one engine over its links: a receiving goroutine per
// port, each batch handled under one lock (the engines are
// single-threaded), and a ticker that runs the engine's timers and BFD
// queue when no traffic comes.
type Runner struct {
	mu      sync.Mutex
	ports   []Port
	links   []*Link
	service func(now time.Time)
	now     func() time.Time
	batch   int
	Tick    time.Duration // service interval without traffic (50 ms when zero)
}

// NewRunner runs links[i] on ports[i]; service is called with the time
// before every batch and on every tick.
func NewRunner(ports []Port, links []*Link, service func(now time.Time)) *Runner {
	return &Runner{ports: ports, links: links, service: service, now: time.Now, batch: pktio.DefaultBatch}
}

// Do runs fn between batches: configuration changes and state reads of
// the engine go through it.
func (r *Runner) Do(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn()
}

func (r *Runner) flush() {
	for _, p := range r.ports {
		_ = p.Flush()
	}
}

func (r *Runner) step() {
	now := r.now()
	for _, l := range r.links {
		l.Tick(now)
	}
	r.service(now)
}

// Run receives until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, p := range r.ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := pktio.NewBatch(r.batch)
			for ctx.Err() == nil {
				if err := p.Receive(b); err != nil {
					return
				}
				if b.Len() == 0 {
					continue
				}
				r.mu.Lock()
				r.step()
				for _, f := range b.Frames {
					r.links[i].Input(f)
				}
				r.flush()
				r.mu.Unlock()
				p.Release(b)
			}
		}()
	}
	tick := r.Tick
	if tick == 0 {
		tick = 50 * time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			r.mu.Lock()
			r.step()
			r.flush()
			r.mu.Unlock()
		}
	}
}
