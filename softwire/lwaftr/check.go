package lwaftr

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wirebeat/wirebeat/softwire/pcapio"
)

// checkBatch is how many input frames make one batch in a check run,
// like one breath of a Snabb app network: replies that resolve a next hop
// (ARP, NA) count for the whole batch they arrived in.
const checkBatch = 100

// pcapSender writes each side's frames to its pcap file. In on-a-stick
// mode both sides share one wire, and frames are split to the files by
// the same rule the engine uses to classify input.
type pcapSender struct {
	w     [2]*pcapio.Writer
	stick *Engine
	err   error
}

func (s *pcapSender) Send(p Port, frame []byte) {
	if s.stick != nil {
		p = s.stick.Classify(frame)
	}
	if s.w[p] == nil || s.err != nil {
		return
	}
	s.err = s.w[p].Write(frame)
}

// Check runs the engine once over pcap inputs, as `snabb lwaftr check`
// does: in4 is fed to the external side, in6 to the internal side (both
// to the one interface in on-a-stick mode); out4 and out6 receive what
// each side sends. A nil reader is no input, a nil writer discards.
func Check(cfg Config, bindings []Binding, in4, in6 io.Reader, out4, out6 io.Writer) (*Counters, error) {
	bt, err := NewTable(bindings)
	if err != nil {
		return nil, err
	}
	snd := &pcapSender{}
	for i, w := range []io.Writer{out4, out6} {
		if w != nil {
			if snd.w[i], err = pcapio.NewWriter(w); err != nil {
				return nil, err
			}
		}
	}
	e, err := New(cfg, bt, snd)
	if err != nil {
		return nil, err
	}
	if cfg.OnAStick {
		snd.stick = e
	}
	start := time.Unix(0, 0)
	e.SetClock(func() time.Time { return start })
	e.Start()
	e.Flush()
	for i, in := range []io.Reader{in4, in6} {
		if in == nil {
			continue
		}
		if err := feed(e, Port(i), in, cfg.OnAStick); err != nil {
			return nil, err
		}
	}
	if snd.err != nil {
		return nil, snd.err
	}
	for _, w := range snd.w {
		if w != nil {
			if err := w.Flush(); err != nil {
				return nil, err
			}
		}
	}
	return &e.C, nil
}

func feed(e *Engine, p Port, in io.Reader, stick bool) error {
	r, err := pcapio.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s input: %w", p, err)
	}
	if r.LinkType != pcapio.LinkTypeEthernet {
		return fmt.Errorf("%s input: link type %d is not Ethernet", p, r.LinkType)
	}
	for n := 0; ; n++ {
		frame, err := r.Next()
		if errors.Is(err, io.EOF) {
			e.Flush()
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s input: %w", p, err)
		}
		if stick {
			e.ReceiveStick(frame)
		} else {
			e.Receive(p, frame)
		}
		if n%checkBatch == checkBatch-1 {
			e.Flush()
		}
	}
}
