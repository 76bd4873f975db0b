package softwire

import (
	"log/slog"
	"sync"
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
// to the engine goroutine before it waits for one back.
const batchesInFlight = 4

// rxBatch is one receive's frames, passed from a reader goroutine to the
// engine goroutine and back for reuse.
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

// changeChunk bounds the binding changes applied between two batches, so
// a large commit does not hold traffic up.
const changeChunk = 4096

// runner owns one engine and its links. Only its goroutine touches the
// engine; everything else talks to it over channels.
type runner struct {
	log        *slog.Logger
	eng        *lwaftr.Engine
	links      [2]Link       // on-a-stick: both the same
	ports      [2]pktio.Port // the links as ports
	stick      bool
	in         chan *rxBatch
	free       [2]chan *rxBatch
	changes    chan []bindingChange
	applied    chan error
	counters   chan chan snapshot
	stop       chan struct{}
	wg         sync.WaitGroup
	sendWarned bool
}

// snapshot is what State reads from the engine.
type snapshot struct {
	C        lwaftr.Counters
	Bindings int
	NHMAC    [2][6]byte
	NHKnown  [2]bool
	// Ports are the packet I/O counters of each side and the name of
	// the driver moving its frames (on-a-stick: both the same).
	Ports   [2]pktio.Stats
	Drivers [2]string
}

// portSender queues the engine's frames on the ports' transmit rings;
// the runner kicks them once per batch.
type portSender struct{ r *runner }

func (s portSender) Send(p lwaftr.Port, frame []byte) {
	if !s.r.ports[p].Send(frame) && !s.r.sendWarned {
		s.r.sendWarned = true
		s.r.log.Warn("lwaftr: transmit dropped a frame (ring full or frame too big); see the port counters", "side", p.String(), "driver", s.r.ports[p].Driver())
	}
}

func startRunner(log *slog.Logger, cfg lwaftr.Config, bt *bindingtable.Table, links [2]Link) (*runner, error) {
	r := &runner{log: log, links: links, stick: cfg.OnAStick,
		in: make(chan *rxBatch, 2*batchesInFlight), changes: make(chan []bindingChange), applied: make(chan error),
		counters: make(chan chan snapshot), stop: make(chan struct{})}
	maxFrame := max(cfg.External.MTU, cfg.Internal.MTU, 1500) + 64
	for i, l := range links {
		r.ports[i] = pktio.Adapt(l, maxFrame)
	}
	eng, err := lwaftr.New(cfg, bt, portSender{r})
	if err != nil {
		return nil, err
	}
	r.eng = eng
	readers := []lwaftr.Port{lwaftr.External, lwaftr.Internal}
	if cfg.OnAStick {
		readers = readers[1:]
	}
	for _, p := range readers {
		r.free[p] = make(chan *rxBatch, batchesInFlight)
		for range batchesInFlight {
			r.free[p] <- &rxBatch{port: p, b: pktio.NewBatch(pktio.DefaultBatch)}
		}
		r.wg.Add(1)
		go r.read(p)
	}
	r.wg.Add(1)
	go r.loop()
	return r, nil
}

// read moves batches of frames from one port to the engine goroutine.
func (r *runner) read(p lwaftr.Port) {
	defer r.wg.Done()
	port := r.ports[p]
	for {
		var b *rxBatch
		select {
		case b = <-r.free[p]:
		case <-r.stop:
			return
		}
		for {
			err := port.Receive(b.b)
			select {
			case <-r.stop:
				port.Release(b.b)
				return
			default:
			}
			if err != nil {
				r.log.Warn("lwaftr: receive failed", "side", p.String(), "driver", port.Driver(), "err", err)
				port.Release(b.b)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if b.b.Len() > 0 {
				break
			}
		}
		select {
		case r.in <- b:
		case <-r.stop:
			return
		}
	}
}

// loop is the engine goroutine: batches, binding changes between them,
// counter snapshots, and the periodic neighbour resolution.
func (r *runner) loop() {
	defer r.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	r.eng.Start()
	r.flush()
	for {
		select {
		case b := <-r.in:
			if r.stick {
				for _, f := range b.b.Frames {
					r.eng.ReceiveStick(f)
				}
			} else {
				r.eng.ReceiveBatch(b.port, b.b.Frames)
			}
			r.flush()
			r.ports[b.port].Release(b.b)
			r.free[b.port] <- b
		case chs := <-r.changes:
			r.applied <- r.apply(chs)
		case reply := <-r.counters:
			s := snapshot{C: r.eng.C, Bindings: r.eng.Table().Len()}
			s.Ports, s.Drivers = r.portStats()
			for p := range 2 {
				s.NHMAC[p], s.NHKnown[p] = r.eng.NextHopMAC(lwaftr.Port(p))
			}
			reply <- s
		case <-tick.C:
			r.eng.Start() // asks again for next hops still unresolved
			r.flush()
		case <-r.stop:
			return
		}
	}
}

// flush hands the engine's queued frames to the ports and kicks each
// port's transmit once.
func (r *runner) flush() {
	r.eng.Flush()
	for i, p := range r.ports {
		if err := p.Flush(); err != nil && !r.sendWarned {
			r.sendWarned = true
			r.log.Warn("lwaftr: transmit failed", "side", lwaftr.Port(i).String(), "err", err)
		}
		if r.stick {
			break
		}
	}
}

// PortStats returns the counters and driver of each side's port.
func (r *runner) portStats() ([2]pktio.Stats, [2]string) {
	var st [2]pktio.Stats
	var drv [2]string
	for i, p := range r.ports {
		st[i], drv[i] = p.Stats(), p.Driver()
	}
	return st, drv
}

// apply makes binding changes in the engine goroutine. Adds were
// validated before the commit; an error here leaves earlier changes of
// the chunk applied, and the caller reverts by applying the inverse.
func (r *runner) apply(chs []bindingChange) error {
	for _, c := range chs {
		if c.add {
			if err := r.eng.AddBinding(c.sw); err != nil {
				return err
			}
		} else {
			r.eng.RemoveBinding(c.ipv4, c.psid)
		}
	}
	return nil
}

// change sends binding changes in chunks, letting batches run between
// chunks.
func (r *runner) change(chs []bindingChange) error {
	for len(chs) > 0 {
		n := min(len(chs), changeChunk)
		r.changes <- chs[:n]
		if err := <-r.applied; err != nil {
			return err
		}
		chs = chs[n:]
	}
	return nil
}

// snapshot reads the engine's counters; a runner being closed meanwhile
// yields an empty snapshot rather than a hang.
func (r *runner) snapshot() snapshot {
	reply := make(chan snapshot, 1)
	select {
	case r.counters <- reply:
		return <-reply
	case <-r.stop:
		return snapshot{}
	}
}

// close stops the goroutines (readers wake within their read timeout),
// then closes the links.
func (r *runner) close() {
	close(r.stop)
	r.wg.Wait()
	for _, l := range r.links {
		if l != nil {
			l.Close()
		}
		if r.stick {
			break
		}
	}
}
