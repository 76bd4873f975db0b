package pktio

import "sync/atomic"

// Adapt makes a Port of a FrameLink that only copies frames in and out
// (an in-memory link in tests, say): the "copy" driver. Receive copies
// into buffers the batch gets on first use; Send writes at once.
func Adapt(l FrameLink, maxFrame int) Port {
	if p, ok := l.(Port); ok {
		return p
	}
	if maxFrame <= 0 {
		maxFrame = Config{}.withDefaults().MaxFrame
	}
	return &copyPort{l: l, maxFrame: maxFrame}
}

type copyPort struct {
	l        FrameLink
	maxFrame int
	rx, tx   atomic.Uint64
	rxB, txB atomic.Uint64
	txDrops  atomic.Uint64
}

func (c *copyPort) ReadBatch(bufs [][]byte, lens []int) (int, error) {
	return c.l.ReadBatch(bufs, lens)
}
func (c *copyPort) Write(frame []byte) error { return c.l.Write(frame) }
func (c *copyPort) Close() error             { return c.l.Close() }
func (c *copyPort) Driver() string           { return "copy" }
func (c *copyPort) Name() string             { return "copy" }
func (c *copyPort) Flush() error             { return nil }
func (c *copyPort) Release(b *Batch)         { b.reset() }

func (c *copyPort) Receive(b *Batch) error {
	b.reset()
	if b.copies == nil {
		b.copies = make([][]byte, cap(b.Frames))
		for i := range b.copies {
			b.copies[i] = make([]byte, c.maxFrame)
		}
		b.lens = make([]int, cap(b.Frames))
	}
	n, err := c.l.ReadBatch(b.copies, b.lens)
	var bytes uint64
	for i := range n {
		b.Frames = append(b.Frames, b.copies[i][:b.lens[i]])
		bytes += uint64(b.lens[i])
	}
	c.rx.Add(uint64(n))
	c.rxB.Add(bytes)
	return err
}

func (c *copyPort) Send(frame []byte) bool {
	if err := c.l.Write(frame); err != nil {
		c.txDrops.Add(1)
		return false
	}
	c.tx.Add(1)
	c.txB.Add(uint64(len(frame)))
	return true
}

func (c *copyPort) Stats() Stats {
	return Stats{RxFrames: c.rx.Load(), RxBytes: c.rxB.Load(), TxFrames: c.tx.Load(), TxBytes: c.txB.Load(), TxDrops: c.txDrops.Load()}
}

func (c *copyPort) Fallback() string { return "" }
