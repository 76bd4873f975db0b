package bfd

// timerHeap is the engine's single scheduler: a 4-ary min-heap of sessions
// ordered by their next deadline (the earlier of transmit and detection).
// One heap for all sessions costs O(log n) per timer change and no goroutine
// or runtime timer per session, which is what lets one element hold
// 100,000 sessions. Four children per node halve the depth of a binary
// heap (fewer cache misses per sift), which is most of the cost at scale.
type timerHeap []*Session

func (h timerHeap) less(i, j int) bool { return h[i].due < h[j].due }

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}

func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 4
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h timerHeap) down(i int) {
	n := len(h)
	for {
		c := 4*i + 1
		if c >= n {
			return
		}
		m := c
		for j := c + 1; j < c+4 && j < n; j++ {
			if h.less(j, m) {
				m = j
			}
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}

// set places s according to s.due: removed when due is 0 (no timer armed),
// inserted or moved otherwise.
func (h *timerHeap) set(s *Session) {
	switch {
	case s.due == 0 && s.heapIdx >= 0:
		h.remove(s)
	case s.due == 0:
	case s.heapIdx < 0:
		s.heapIdx = len(*h)
		*h = append(*h, s)
		h.up(s.heapIdx)
	default:
		h.down(s.heapIdx)
		h.up(s.heapIdx)
	}
}

func (h *timerHeap) remove(s *Session) {
	i := s.heapIdx
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	s.heapIdx = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

// peek returns the session with the earliest deadline, nil when empty.
func (h timerHeap) peek() *Session {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}
