package failover

import (
	"time"

	"github.com/wirebeat/wirebeat/softwire/bindstore"
)

// dynEntry is a dynamic binding as the manager keeps it: times in Unix
// nanoseconds, so the book holds no pointers (no write barriers, nothing
// for the collector to scan when a burst fills it).
type dynEntry struct {
	b        bindstore.Binding
	origin   Origin
	created  int64
	renewed  int64
	lastUsed int64 // 0: not seen used yet
	lease    int64
}

// lastActive is when the lifetime of d started running.
func (d *dynEntry) lastActive() int64 { return max(d.renewed, d.lastUsed) }

func (d *dynEntry) public() DynamicBinding {
	out := DynamicBinding{Binding: d.b, Origin: d.origin, Created: time.Unix(0, d.created),
		Renewed: time.Unix(0, d.renewed), Lease: d.lease}
	if d.lastUsed != 0 {
		out.LastUsed = time.Unix(0, d.lastUsed)
	}
	return out
}

// bookBlock is how many entries one block of the book holds: a burst
// grows the book by a block at a time, never by copying it.
const bookBlock = 1024

// book is the set of dynamic bindings, indexed by key(ipv4, psid), in
// blocks so that it grows without moving entries and can be walked by
// position a chunk at a time.
type book struct {
	idx    map[uint64]int32
	blocks [][]dynEntry
	n      int
}

// newBook makes a book with room for n without growing its index (a
// burst would otherwise rehash it on the engine's goroutine).
func newBook(n int) book { return book{idx: make(map[uint64]int32, n)} }

func (b *book) len() int { return b.n }

func (b *book) at(i int) *dynEntry { return &b.blocks[i/bookBlock][i%bookBlock] }

func (b *book) get(k uint64) (*dynEntry, bool) {
	i, ok := b.idx[k]
	if !ok {
		return nil, false
	}
	return b.at(int(i)), true
}

func (b *book) add(d dynEntry) {
	if b.n == len(b.blocks)*bookBlock {
		b.blocks = append(b.blocks, make([]dynEntry, bookBlock))
	}
	*b.at(b.n) = d
	b.idx[key(d.b.IPv4, d.b.PSID)] = int32(b.n)
	b.n++
}

// remove takes k out, moving the last entry into its place.
func (b *book) remove(k uint64) (dynEntry, bool) {
	i, ok := b.idx[k]
	if !ok {
		return dynEntry{}, false
	}
	d := *b.at(int(i))
	last := b.n - 1
	if int(i) != last {
		l := b.at(last)
		*b.at(int(i)) = *l
		b.idx[key(l.b.IPv4, l.b.PSID)] = i
	}
	*b.at(last) = dynEntry{}
	delete(b.idx, k)
	b.n--
	// Keep one empty block beyond the last used, free the rest.
	for len(b.blocks) > 1 && (len(b.blocks)-2)*bookBlock >= b.n {
		b.blocks[len(b.blocks)-1] = nil
		b.blocks = b.blocks[:len(b.blocks)-1]
	}
	return d, true
}
