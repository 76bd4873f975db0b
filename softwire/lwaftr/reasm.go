package lwaftr

// reasmKey identifies a packet under reassembly (RFC 791: source,
// destination, protocol, identification; RFC 8200: source, destination,
// identification).
type reasmKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
}

// reasmEntry collects the fragments of one packet. Buffers are reused
// from a free list, so steady fragmented traffic does not allocate.
type reasmEntry struct {
	hdr    [60]byte // header of the first fragment (IPv4 with options, or IPv6)
	hdrLen int
	data   []byte // payload at its offset
	got    int    // payload bytes received
	total  int    // payload length, -1 until the last fragment arrives
	frags  int
	// seen marks received 8-byte blocks so duplicates are not counted twice.
	seen []uint64
	// born is when the first fragment arrived; older entries are stale.
	born int64
}

type reassembler struct {
	entries    map[reasmKey]*reasmEntry
	free       []*reasmEntry
	maxPackets int
	maxFrags   int
	now        int64 // nanoseconds, set by the engine per fragment
	evicted    uint64
}

// reasmTimeout is how long fragments wait for the rest of their packet
// (RFC 8200 §4.5 says 60 s; a busy lwAFTR cannot hold memory that long,
// and Snabb uses a few seconds too).
const reasmTimeout = 5e9

const maxDatagram = 65535

func newReassembler(maxPackets, maxFrags int) *reassembler {
	return &reassembler{entries: map[reasmKey]*reasmEntry{}, maxPackets: maxPackets, maxFrags: maxFrags}
}

func (r *reassembler) get(k reasmKey) *reasmEntry {
	if en, ok := r.entries[k]; ok {
		if r.now-en.born <= reasmTimeout {
			return en
		}
		r.drop(k, en) // stale: start this packet afresh
		r.evicted++
	}
	if len(r.entries) >= r.maxPackets {
		for old, en := range r.entries { // map order is random: evict at random
			r.drop(old, en)
			r.evicted++
			break
		}
	}
	var en *reasmEntry
	if n := len(r.free); n > 0 {
		en = r.free[n-1]
		r.free = r.free[:n-1]
	} else {
		// data grows to what packets need (see place), so the buffers of
		// max-packets small packets do not take 64 KiB each.
		en = &reasmEntry{data: make([]byte, 2048), seen: make([]uint64, maxDatagram/8/64+1)}
	}
	en.hdrLen, en.got, en.total, en.frags, en.born = 0, 0, -1, 0, r.now
	clear(en.seen)
	r.entries[k] = en
	return en
}

func (r *reassembler) drop(k reasmKey, en *reasmEntry) {
	delete(r.entries, k)
	r.free = append(r.free, en)
}

// place stores one fragment's payload. It returns false when the
// fragment is inconsistent and the whole packet must be dropped.
func (en *reasmEntry) place(off int, payload []byte, more bool) bool {
	end := off + len(payload)
	if end > maxDatagram-60 || (more && len(payload)%8 != 0) {
		return false
	}
	if !more {
		if en.total >= 0 && en.total != end {
			return false
		}
		en.total = end
	} else if en.total >= 0 && end > en.total {
		return false
	}
	if end > len(en.data) {
		grown := make([]byte, max(end, 2*len(en.data)))
		copy(grown, en.data)
		en.data = grown
	}
	copy(en.data[off:end], payload)
	for b := off / 8; b*8 < end; b++ {
		if en.seen[b/64]&(1<<(b%64)) == 0 {
			en.seen[b/64] |= 1 << (b % 64)
			en.got += min(8, end-b*8)
		}
	}
	return true
}

func (en *reasmEntry) complete() bool { return en.total >= 0 && en.hdrLen > 0 && en.got == en.total }

// add4 takes an IPv4 fragment. When it completes a packet, the packet is
// built in out and returned with done=true.
func (r *reassembler) add4(p []byte, out []byte, c *Counters, side Port) ([]byte, bool) {
	var k reasmKey
	copy(k.src[:4], p[12:16])
	copy(k.dst[:4], p[16:20])
	k.id = uint32(be.Uint16(p[4:]))
	k.proto = p[9]
	ihl := int(p[0]&0xf) * 4
	fo := be.Uint16(p[6:])
	off := int(fo&0x1fff) * 8
	en := r.get(k)
	en.frags++
	if en.frags > r.maxFrags || !en.place(off, p[ihl:], fo&0x2000 != 0) {
		c.DropFragments[side] += uint64(en.frags)
		r.drop(k, en)
		return nil, false
	}
	if off == 0 {
		en.hdrLen = copy(en.hdr[:], p[:ihl])
	}
	if !en.complete() {
		return nil, false
	}
	n := en.hdrLen + en.total
	w := out[:n]
	copy(w, en.hdr[:en.hdrLen])
	copy(w[en.hdrLen:], en.data[:en.total])
	be.PutUint16(w[2:], uint16(n))
	be.PutUint16(w[4:], 0) // identification, flags and offset start afresh
	be.PutUint16(w[6:], 0)
	setIPv4Checksum(w)
	r.drop(k, en)
	c.ReassembledPackets[side]++
	return w, true
}

// add6 takes an IPv6 packet whose first extension header is a fragment
// header. When it completes a packet, the packet (fixed header, then the
// fragmentable part) is built in out and returned with done=true.
func (r *reassembler) add6(p []byte, out []byte, c *Counters, side Port) ([]byte, bool) {
	if len(p) < 48 {
		c.DropMalformed[side]++
		return nil, false
	}
	var k reasmKey
	copy(k.src[:], p[8:24])
	copy(k.dst[:], p[24:40])
	k.id = be.Uint32(p[44:])
	k.proto = 44
	fo := be.Uint16(p[42:])
	off := int(fo &^ 7)
	en := r.get(k)
	en.frags++
	if en.frags > r.maxFrags || !en.place(off, p[48:], fo&1 != 0) {
		c.DropFragments[side] += uint64(en.frags)
		r.drop(k, en)
		return nil, false
	}
	if off == 0 {
		en.hdrLen = copy(en.hdr[:], p[:40])
		en.hdr[6] = p[40] // next header of the fragmentable part
	}
	if !en.complete() {
		return nil, false
	}
	n := 40 + en.total
	if n > len(out) || en.total > maxDatagram-40 {
		r.drop(k, en)
		return nil, false
	}
	w := out[:n]
	copy(w, en.hdr[:40])
	copy(w[40:], en.data[:en.total])
	be.PutUint16(w[4:], uint16(en.total))
	r.drop(k, en)
	c.ReassembledPackets[side]++
	return w, true
}
