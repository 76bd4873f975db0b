package softwire

import (
	"log/slog"
	"sync"
	"time"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

// Link is a packet interface the data plane reads and writes: an
// AF_PACKET socket on a live interface, or a pipe in tests.
type Link interface {
	// ReadBatch waits a short while for frames and stores up to len(bufs)
	// of them, their lengths in lens. It returns 0 when nothing came.
	ReadBatch(bufs [][]byte, lens []int) (int, error)
	// Write sends one frame.
	Write(frame []byte) error
	Close() error
}

// batchSize is the most frames one read hands to the engine.
const batchSize = 64

// frameSize bounds one received frame (jumbo frames plus a VLAN tag).
const frameSize = 9216 + 64

// rxBatch is one read's frames, passed from a reader goroutine to the
// engine goroutine and back for reuse.
type rxBatch struct {
	port   lwaftr.Port
	bufs   [][]byte
	lens   []int
	frames [][]byte
	n      int
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
	log      *slog.Logger
	eng      *lwaftr.Engine
	links    [2]Link // on-a-stick: both the same
	stick    bool
	in       chan *rxBatch
	free     [2]chan *rxBatch
	changes  chan []bindingChange
	applied  chan error
	counters chan chan snapshot
	stop     chan struct{}
	wg       sync.WaitGroup
	writeErr error
}

// snapshot is what State reads from the engine.
type snapshot struct {
	C        lwaftr.Counters
	Bindings int
	NHMAC    [2][6]byte
	NHKnown  [2]bool
}

// linkSender writes the engine's frames to the links.
type linkSender struct{ r *runner }

func (s linkSender) Send(p lwaftr.Port, frame []byte) {
	l := s.r.links[p]
	if err := l.Write(frame); err != nil && s.r.writeErr == nil {
		s.r.writeErr = err
		s.r.log.Warn("lwaftr: send failed", "side", p.String(), "err", err)
	}
}

func startRunner(log *slog.Logger, cfg lwaftr.Config, bt *bindingtable.Table, links [2]Link) (*runner, error) {
	r := &runner{log: log, links: links, stick: cfg.OnAStick,
		in: make(chan *rxBatch, 4), changes: make(chan []bindingChange), applied: make(chan error),
		counters: make(chan chan snapshot), stop: make(chan struct{})}
	eng, err := lwaftr.New(cfg, bt, linkSender{r})
	if err != nil {
		return nil, err
	}
	r.eng = eng
	readers := []lwaftr.Port{lwaftr.External, lwaftr.Internal}
	if cfg.OnAStick {
		readers = readers[1:]
	}
	for _, p := range readers {
		r.free[p] = make(chan *rxBatch, 4)
		for range 4 {
			b := &rxBatch{port: p, bufs: make([][]byte, batchSize), lens: make([]int, batchSize), frames: make([][]byte, batchSize)}
			for i := range b.bufs {
				b.bufs[i] = make([]byte, frameSize)
			}
			r.free[p] <- b
		}
		r.wg.Add(1)
		go r.read(p)
	}
	r.wg.Add(1)
	go r.loop()
	return r, nil
}

// read moves frames from one link to the engine goroutine.
func (r *runner) read(p lwaftr.Port) {
	defer r.wg.Done()
	for {
		var b *rxBatch
		select {
		case b = <-r.free[p]:
		case <-r.stop:
			return
		}
		for {
			n, err := r.links[p].ReadBatch(b.bufs, b.lens)
			select {
			case <-r.stop:
				return
			default:
			}
			if err != nil {
				r.log.Warn("lwaftr: receive failed", "side", p.String(), "err", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if n > 0 {
				b.n = n
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
	r.eng.Flush()
	for {
		select {
		case b := <-r.in:
			for i := 0; i < b.n; i++ {
				b.frames[i] = b.bufs[i][:b.lens[i]]
			}
			if r.stick {
				for _, f := range b.frames[:b.n] {
					r.eng.ReceiveStick(f)
				}
			} else {
				r.eng.ReceiveBatch(b.port, b.frames[:b.n])
			}
			r.eng.Flush()
			r.free[b.port] <- b
		case chs := <-r.changes:
			r.applied <- r.apply(chs)
		case reply := <-r.counters:
			s := snapshot{C: r.eng.C, Bindings: r.eng.Table().Len()}
			for p := range 2 {
				s.NHMAC[p], s.NHKnown[p] = r.eng.NextHopMAC(lwaftr.Port(p))
			}
			reply <- s
		case <-tick.C:
			r.eng.Start() // asks again for next hops still unresolved
			r.eng.Flush()
		case <-r.stop:
			return
		}
	}
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
