package bfd

// StabilityStats is what the stability extension's receiver measured
// (seed 002). Delays are gaps between the peer's send timestamps of
// consecutive packets, in microseconds.
type StabilityStats struct {
	Lost, OutOfOrder, Duplicate uint64
	DelayLast, DelayMin         uint32
	DelayMax, DelayAvg          uint32
	IntervalDeviationMax        uint32
	RxSeq                       uint32
	Resets                      uint64
}

// stabilityRx tracks the peer's sequence numbers. It keeps the highest
// number seen and a 64-bit map of which of the 64 numbers below it arrived,
// which tells a duplicate from a late (reordered) packet exactly.
type stabilityRx struct {
	StabilityStats
	started  bool
	highest  uint32
	seen     uint64 // bit i: highest-i arrived
	lastTS   uint32
	haveTS   bool
	delaySum uint64
	delayN   uint64
}

// seqDist is how far b is after a in the sender's sequence, where the
// sequence wraps from 0xffffffff to 1 (0 is never a position). Positive is
// ahead, negative behind.
func seqDist(a, b uint32) int64 {
	d := int64(int32(b - a))
	// Crossing the wrap skips 0: one step fewer than the arithmetic says.
	if d > 0 && b < a {
		d--
	} else if d < 0 && b > a {
		d++
	}
	return d
}

// observe accounts one accepted packet's Null-Authentication section.
func (r *stabilityRx) observe(a *Auth, negotiatedRx uint32) {
	if a.Seq == 0 {
		// The sender asks to restart correlation: the next non-zero
		// number bootstraps again.
		r.started = false
		r.haveTS = false
		r.Resets++
		r.RxSeq = 0
		return
	}
	r.RxSeq = a.Seq
	if !r.started {
		r.started = true
		r.highest = a.Seq
		r.seen = 1
		r.noteTS(a, false, negotiatedRx)
		return
	}
	d := seqDist(r.highest, a.Seq)
	switch {
	case d > 0:
		r.Lost += uint64(d - 1)
		if d >= 64 {
			r.seen = 0
		} else {
			r.seen <<= uint(d)
		}
		r.seen |= 1
		r.highest = a.Seq
		r.noteTS(a, d == 1, negotiatedRx)
	case d == 0:
		r.Duplicate++
	default:
		back := -d
		if back < 64 && r.seen&(1<<uint(back)) != 0 {
			r.Duplicate++
			return
		}
		r.OutOfOrder++
		if back < 64 {
			r.seen |= 1 << uint(back)
			// Counted lost when the gap appeared; it came after all.
			if r.Lost > 0 {
				r.Lost--
			}
		}
	}
}

// noteTS measures the gap between consecutive send timestamps.
func (r *stabilityRx) noteTS(a *Auth, consecutive bool, negotiatedRx uint32) {
	if a.KeyID != NullAuthLossAndDelay {
		r.haveTS = false
		return
	}
	if consecutive && r.haveTS {
		gap := a.Timestamp - r.lastTS
		r.DelayLast = gap
		if r.delayN == 0 || gap < r.DelayMin {
			r.DelayMin = gap
		}
		r.DelayMax = max(r.DelayMax, gap)
		r.delaySum += uint64(gap)
		r.delayN++
		r.DelayAvg = uint32(r.delaySum / r.delayN)
		dev := int64(gap) - int64(negotiatedRx)
		if dev < 0 {
			dev = -dev
		}
		r.IntervalDeviationMax = max(r.IntervalDeviationMax, uint32(min(dev, 1<<32-1)))
	}
	r.lastTS = a.Timestamp
	r.haveTS = true
}
