package bindingtable

import (
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Shared is a binding table read by several data-plane workers at once
// and changed by one writer without stopping them (the left-right
// scheme): two identical copies, readers on the active one. A change is
// made to the inactive copy, the copies swap, the writer waits until no
// reader is still inside a batch that began on the old active copy, and
// makes the same change to it. Readers never wait and never lock; a
// writer waits at most one batch per reader. Memory is two tables.
//
// With one reader there is nothing to gain from a second copy: the
// writer then takes the reader's place between two batches (a
// read-write lock held per batch), which is what the single-worker data
// plane always did.
type Shared struct {
	mu      sync.Mutex // one writer at a time
	tabs    [2]*Table
	active  atomic.Int32
	readers []*Reader
	rw      sync.RWMutex // one copy only
}

// Reader is one worker's handle.
type Reader struct {
	s     *Shared
	epoch atomic.Uint64 // odd while inside a batch
	cur   int32
}

// NewShared shares t among readers readers (at least one). With more
// than one, t is cloned for the second copy.
func NewShared(t *Table, readers int) *Shared {
	s := &Shared{tabs: [2]*Table{t, nil}}
	if readers > 1 {
		s.tabs[1] = t.Clone()
	}
	for range max(readers, 1) {
		s.readers = append(s.readers, &Reader{s: s})
	}
	return s
}

// Reader returns the handle of worker i.
func (s *Shared) Reader(i int) *Reader { return s.readers[i] }

// Enter starts a batch: the returned table may be read (Lookup,
// HasAddress, IsBR, Home, Touch, PortSetOf) until Leave, and not changed.
func (r *Reader) Enter() *Table {
	if r.s.tabs[1] == nil {
		r.s.rw.RLock()
		return r.s.tabs[0]
	}
	r.epoch.Add(1)
	r.cur = r.s.active.Load()
	return r.s.tabs[r.cur]
}

// Leave ends the batch Enter began.
func (r *Reader) Leave() {
	if r.s.tabs[1] == nil {
		r.s.rw.RUnlock()
		return
	}
	r.epoch.Add(1)
}

// Update applies fn to the table. fn must be deterministic: with two
// copies it runs on each, and both must end the same (a change list
// that stops at its first error does). fn's error is returned.
func (s *Shared) Update(fn func(*Table) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tabs[1] == nil {
		s.rw.Lock()
		defer s.rw.Unlock()
		return fn(s.tabs[0])
	}
	a := s.active.Load()
	err := fn(s.tabs[1-a])
	s.active.Store(1 - a)
	// Wait for every reader that may still be reading copy a.
	for _, r := range s.readers {
		e := r.epoch.Load()
		if e&1 == 0 {
			continue
		}
		for spins := 0; r.epoch.Load() == e; spins++ {
			if spins < 64 {
				runtime.Gosched()
			} else {
				sleepBriefly()
			}
		}
	}
	fn(s.tabs[a])
	return err
}

// View runs fn on the table with no change in progress (the writer's
// side: counts, Get).
func (s *Shared) View(fn func(*Table)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.tabs[s.active.Load()])
}

// Clone returns an independent copy of t.
func (t *Table) Clone() *Table {
	c := &Table{cap: t.cap, count: t.count, oldCap: t.oldCap, next: t.next,
		addrs: maps.Clone(t.addrs), psCount: maps.Clone(t.psCount), uniform: t.uniform, single: t.single,
		prefixCount: slices.Clone(t.prefixCount), brs: slices.Clone(t.brs), brRefs: slices.Clone(t.brRefs),
		brIdx: maps.Clone(t.brIdx), brFree: slices.Clone(t.brFree)}
	c.mem = newSlotMem(c)
	c.slots = c.mem.alloc(len(t.slots))
	copy(c.slots, t.slots)
	if t.old != nil {
		c.old = c.mem.alloc(len(t.old))
		copy(c.old, t.old)
	}
	return c
}

// Growing reports a growth still being drained (Migrate moves it on).
func (t *Table) Growing() bool { return t.old != nil }
