package bfd

import "math/rand/v2"

// discrAllocator hands out local discriminators unique within the element
// (RFC 5880 section 6.3: unique per system, non-zero, and random so that
// an off-path attacker cannot guess them). Values reserved for the S-BFD
// reflector are never handed to ordinary sessions.
type discrAllocator struct {
	rng      *rand.Rand
	inUse    map[uint32]bool
	reserved map[uint32]bool
}

func newDiscrAllocator(rng *rand.Rand) *discrAllocator {
	return &discrAllocator{rng: rng, inUse: map[uint32]bool{}, reserved: map[uint32]bool{}}
}

// alloc returns a fresh non-zero discriminator. The 32-bit space is so much
// larger than any session count that a few retries always suffice.
func (a *discrAllocator) alloc() uint32 {
	for {
		d := a.rng.Uint32()
		if d != 0 && !a.inUse[d] && !a.reserved[d] {
			a.inUse[d] = true
			return d
		}
	}
}

func (a *discrAllocator) release(d uint32) { delete(a.inUse, d) }

// reserve keeps d away from alloc; it fails if a session already holds d.
func (a *discrAllocator) reserve(d uint32) bool {
	if d == 0 || a.inUse[d] {
		return false
	}
	a.reserved[d] = true
	return true
}

func (a *discrAllocator) unreserve(d uint32) { delete(a.reserved, d) }
