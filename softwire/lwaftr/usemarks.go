package lwaftr

import "math/bits"

// UseMarks records which bindings carried traffic, for a failover manager
// that expires idle dynamic bindings (RFC 7596 leaves the lifetime to the
// provisioning; seed 001 wants it to run from the last use). The engine
// sets one bit per forwarded packet, at a hash of the binding's B4 address
// and IPv4 address under Seed: a load and a store to memory only this
// engine writes, no atomic, no call, no allocation. Whoever owns the marks
// swaps them between batches (SetUseMarks) and reads the old set with Has.
//
// A bit may be set by another binding that hashes to it, so Has can say
// "used" for an idle binding (never the reverse); changing Seed at every
// swap makes those collisions differ from one set to the next.
type UseMarks struct {
	bits  []uint64
	shift uint8
	Seed  uint64
}

// NewUseMarks returns a cleared set of at least n bits (a power of two,
// at least 64).
func NewUseMarks(n int) *UseMarks {
	n = max(n, 64)
	lg := bits.Len(uint(n - 1))
	return &UseMarks{bits: make([]uint64, (1<<lg)/64), shift: uint8(64 - lg)}
}

func (u *UseMarks) index(b4 *[16]byte, ipv4 uint32) uint64 {
	lo := be.Uint64(b4[0:8])
	hi := be.Uint64(b4[8:16])
	h := (lo ^ u.Seed) * 0x9e3779b97f4a7c15
	h = (h ^ hi ^ uint64(ipv4)<<17) * 0xbf58476d1ce4e5b9
	h ^= h >> 31
	return (h * 0x94d049bb133111eb) >> u.shift
}

// Mark records a packet of the binding (b4, ipv4).
func (u *UseMarks) Mark(b4 *[16]byte, ipv4 uint32) {
	i := u.index(b4, ipv4)
	u.bits[i>>6] |= 1 << (i & 63)
}

// Has reports whether (b4, ipv4) may have been marked.
func (u *UseMarks) Has(b4 *[16]byte, ipv4 uint32) bool {
	i := u.index(b4, ipv4)
	return u.bits[i>>6]&(1<<(i&63)) != 0
}

// Clear empties the set.
func (u *UseMarks) Clear() { clear(u.bits) }

// Bits is the size of the set.
func (u *UseMarks) Bits() int { return len(u.bits) * 64 }

// SetUseMarks makes the engine mark every binding it forwards through in
// u (nil: none); call it between batches. The engine writes u until the
// next SetUseMarks, so the caller reads it only after replacing it.
func (e *Engine) SetUseMarks(u *UseMarks) { e.marks = u }
