package server

import (
	"errors"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/wirebeat/wirebeat/events"
)

// ErrSlowConsumer ends a subscription whose queue overflowed: the consumer
// did not keep up, and the hub never makes an engine wait for it.
var ErrSlowConsumer = errors.New("subscriber too slow: event queue overflowed")

// ErrHubClosed ends every subscription when the element stops.
var ErrHubClosed = errors.New("element stopping")

// Hub fans events out to subscribers, each with a queue bounded in
// events and in bytes. Publish never blocks: a subscriber whose queue is
// full is cut off with ErrSlowConsumer and the others go on.
type Hub struct {
	mu     sync.RWMutex
	subs   map[*Subscription]struct{}
	closed bool
	// maxBytes bounds the estimated bytes queued for one subscriber (0:
	// no bound); the server sets it from Limits.QueueBytes.
	maxBytes int64

	published atomic.Uint64
	cutOff    atomic.Uint64
	internal  atomic.Int64 // subscriptions of the core itself, not counted in Stats
}

// SetQueueBytes bounds the bytes queued for each subscriber (0: none).
func (h *Hub) SetQueueBytes(n int) {
	h.mu.Lock()
	h.maxBytes = int64(n)
	h.mu.Unlock()
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: map[*Subscription]struct{}{}}
}

// Subscription is one consumer's queue. Read C until it is closed, then Err
// says why.
type Subscription struct {
	C <-chan events.Event

	hub    *Hub
	ch     chan events.Event
	filter func(*events.Event) bool
	once   sync.Once
	err    atomic.Pointer[error]

	internal bool

	// Bytes queued: the publishers record each event's size in a ring
	// parallel to the channel; what the consumer took since is the count
	// sent minus the channel's length.
	qmu     sync.Mutex
	sizes   []int64
	head    int // ring index of the oldest size still counted
	counted int
	sent    uint64
	taken   uint64
	bytes   int64
}

// offer queues e, of size bytes, unless the queue is full in events or in
// bytes (max, 0 for no bound).
func (s *Subscription) offer(e events.Event, size, max int64) bool {
	if max <= 0 {
		select {
		case s.ch <- e:
			return true
		default:
			return false
		}
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.sizes == nil {
		s.sizes = make([]int64, cap(s.ch)+1)
	}
	consumed := s.sent - uint64(len(s.ch))
	for s.taken < consumed && s.counted > 0 {
		s.bytes -= s.sizes[s.head]
		s.head = (s.head + 1) % len(s.sizes)
		s.counted--
		s.taken++
	}
	if s.bytes > 0 && s.bytes+size > max {
		return false
	}
	select {
	case s.ch <- e:
	default:
		return false
	}
	s.sizes[(s.head+s.counted)%len(s.sizes)] = size
	s.counted++
	s.bytes += size
	s.sent++
	return true
}

// eventSize estimates the memory an event holds.
func eventSize(e *events.Event) int64 {
	n := 96 + len(e.Module) + len(e.Name) + 32*len(e.Leaves)
	for _, u := range e.Updates {
		n += 32 + proto.Size(u.Path) + proto.Size(u.Value)
	}
	if c := e.Commit; c != nil {
		n += 64 + len(c.User) + len(c.Transport)
		for _, ed := range c.Edits {
			n += 32 + proto.Size(ed.Path)
		}
	}
	return int64(n)
}

// Subscribe registers a consumer with a queue of queueLen events. filter,
// if not nil, selects the events it wants; it runs on the publisher's
// goroutine and must be cheap.
func (h *Hub) Subscribe(queueLen int, filter func(*events.Event) bool) *Subscription {
	return h.subscribe(queueLen, filter, false)
}

func (h *Hub) subscribe(queueLen int, filter func(*events.Event) bool, internal bool) *Subscription {
	if queueLen < 1 {
		queueLen = 1
	}
	ch := make(chan events.Event, queueLen)
	s := &Subscription{C: ch, hub: h, ch: ch, filter: filter, internal: internal}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.end(ErrHubClosed)
		return s
	}
	h.subs[s] = struct{}{}
	if internal {
		h.internal.Add(1)
	}
	return s
}

// Publish queues e for every interested subscriber. It implements
// events.Sink.
func (h *Hub) Publish(e events.Event) {
	h.published.Add(1)
	var slow []*Subscription
	size := int64(-1) // computed once, if a queue is bounded in bytes
	h.mu.RLock()
	for s := range h.subs {
		if s.filter != nil && !s.filter(&e) {
			continue
		}
		if size < 0 && h.maxBytes > 0 {
			size = eventSize(&e)
		}
		if !s.offer(e, size, h.maxBytes) {
			slow = append(slow, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range slow {
		h.cutOff.Add(1)
		h.remove(s, ErrSlowConsumer)
	}
}

// remove unregisters s and closes its queue. Taking the write lock first
// guarantees no Publish is sending on the channel when it closes.
func (h *Hub) remove(s *Subscription, why error) {
	h.mu.Lock()
	_, present := h.subs[s]
	delete(h.subs, s)
	if present && s.internal {
		h.internal.Add(-1)
	}
	h.mu.Unlock()
	if present {
		s.end(why)
	}
}

func (s *Subscription) end(why error) {
	s.once.Do(func() {
		s.err.Store(&why)
		close(s.ch)
	})
}

// Close ends the subscription; C is closed and Err returns nil.
func (s *Subscription) Close() {
	s.hub.remove(s, nil)
}

// Err is why C was closed: nil after Close, ErrSlowConsumer or
// ErrHubClosed otherwise. It is nil while C is open.
func (s *Subscription) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Close ends every subscription with ErrHubClosed.
func (h *Hub) Close() {
	h.mu.Lock()
	subs := h.subs
	h.subs = map[*Subscription]struct{}{}
	h.closed = true
	h.internal.Store(0)
	h.mu.Unlock()
	for s := range subs {
		s.end(ErrHubClosed)
	}
}

// HubStats counts events published and subscribers cut off.
type HubStats struct {
	Published   uint64
	CutOff      uint64
	Subscribers int
}

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.RLock()
	n := len(h.subs) - int(h.internal.Load())
	h.mu.RUnlock()
	return HubStats{Published: h.published.Load(), CutOff: h.cutOff.Load(), Subscribers: n}
}
