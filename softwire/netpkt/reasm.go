package netpkt

// reasmKey identifies a packet under reassembly (RFC 791: source,
// destination, protocol, identification; RFC 8200: source, destination,
// identification).
type reasmKey struct {
	// tunnel is the outer source of an IPv4 packet reassembled inside a
	// softwire: private addresses behind different B4s overlap.
	tunnel   [16]byte
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

// Reassembler puts IPv4 or IPv6 fragments back together, bounded in the
// number of packets under reassembly and in fragments per packet: a
// fragment flood evicts old partial packets instead of growing memory.
// It is not safe for concurrent use.
type Reassembler struct {
	entries    map[reasmKey]*reasmEntry
	free       []*reasmEntry
	maxPackets int
	maxFrags   int
	now        int64
	evicted    uint64
}

// ReasmStatus says what one fragment did.
type ReasmStatus int

// The outcomes of Add4 and Add6.
const (
	// ReasmPending: the fragment was kept; the packet is not complete.
	ReasmPending ReasmStatus = iota
	// ReasmDone: the packet is complete and returned.
	ReasmDone
	// ReasmDropped: the fragment was inconsistent (overlap beyond the
	// end, too many fragments, too big): the whole packet, all the
	// fragments Add reports, was dropped.
	ReasmDropped
	// ReasmMalformed: the fragment itself was too short to parse.
	ReasmMalformed
)

// ReasmTimeout is how long fragments wait for the rest of their packet,
// in nanoseconds (RFC 8200 §4.5 says 60 s; a busy softwire concentrator
// cannot hold memory that long, and Snabb uses a few seconds too).
const ReasmTimeout = 5e9

// MaxDatagram is the largest reassembled packet.
const MaxDatagram = 65535

// NewReassembler makes a reassembler holding at most maxPackets partial
// packets of at most maxFrags fragments each.
func NewReassembler(maxPackets, maxFrags int) *Reassembler {
	return &Reassembler{entries: map[reasmKey]*reasmEntry{}, maxPackets: max(maxPackets, 1), maxFrags: maxFrags}
}

// Evicted counts partial packets dropped because they went stale or room
// was needed.
func (r *Reassembler) Evicted() uint64 { return r.evicted }

// Pending is the number of partial packets held.
func (r *Reassembler) Pending() int { return len(r.entries) }

func (r *Reassembler) get(k reasmKey) *reasmEntry {
	if en, ok := r.entries[k]; ok {
		if r.now-en.born <= ReasmTimeout {
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
		en = &reasmEntry{data: make([]byte, 2048), seen: make([]uint64, MaxDatagram/8/64+1)}
	}
	en.hdrLen, en.got, en.total, en.frags, en.born = 0, 0, -1, 0, r.now
	clear(en.seen)
	r.entries[k] = en
	return en
}

func (r *Reassembler) drop(k reasmKey, en *reasmEntry) {
	delete(r.entries, k)
	r.free = append(r.free, en)
}

// place stores one fragment's payload. It returns false when the
// fragment is inconsistent and the whole packet must be dropped.
func (en *reasmEntry) place(off int, payload []byte, more bool) bool {
	end := off + len(payload)
	if end > MaxDatagram-60 || (more && len(payload)%8 != 0) {
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

// Add4 takes an IPv4 fragment p (a valid header, see CheckIPv4) that
// arrived at now (nanoseconds). When it completes a packet, the packet is
// built in out (at least MaxDatagram bytes) and returned with ReasmDone;
// with ReasmDropped, dropped is how many fragments went.
func (r *Reassembler) Add4(now int64, p []byte, out []byte) (whole []byte, st ReasmStatus, dropped int) {
	return r.Add4Tunnel(now, nil, p, out)
}

// Add4Tunnel is Add4 for an IPv4 packet that came out of the softwire
// whose far end is tunnel (an IPv6 address): fragments of different
// tunnels never mix, whatever their inner addresses.
func (r *Reassembler) Add4Tunnel(now int64, tunnel []byte, p []byte, out []byte) (whole []byte, st ReasmStatus, dropped int) {
	r.now = now
	var k reasmKey
	copy(k.tunnel[:], tunnel)
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
		n := en.frags
		r.drop(k, en)
		return nil, ReasmDropped, n
	}
	if off == 0 {
		en.hdrLen = copy(en.hdr[:], p[:ihl])
	}
	if !en.complete() {
		return nil, ReasmPending, 0
	}
	n := en.hdrLen + en.total
	if n > len(out) || n > MaxDatagram {
		r.drop(k, en)
		return nil, ReasmDropped, 0
	}
	w := out[:n]
	copy(w, en.hdr[:en.hdrLen])
	copy(w[en.hdrLen:], en.data[:en.total])
	be.PutUint16(w[2:], uint16(n))
	be.PutUint16(w[4:], 0) // identification, flags and offset start afresh
	be.PutUint16(w[6:], 0)
	SetIPv4Checksum(w)
	r.drop(k, en)
	return w, ReasmDone, 0
}

// Add6 takes an IPv6 packet p (a valid fixed header, see CheckIPv6) whose
// first extension header is a fragment header, arrived at now. When it
// completes a packet, the packet (fixed header, then the fragmentable
// part) is built in out and returned with ReasmDone.
func (r *Reassembler) Add6(now int64, p []byte, out []byte) (whole []byte, st ReasmStatus, dropped int) {
	if len(p) < 48 {
		return nil, ReasmMalformed, 0
	}
	r.now = now
	var k reasmKey
	copy(k.src[:], p[8:24])
	copy(k.dst[:], p[24:40])
	k.id = be.Uint32(p[44:])
	k.proto = ProtoFragment
	fo := be.Uint16(p[42:])
	off := int(fo &^ 7)
	en := r.get(k)
	en.frags++
	if en.frags > r.maxFrags || !en.place(off, p[48:], fo&1 != 0) {
		n := en.frags
		r.drop(k, en)
		return nil, ReasmDropped, n
	}
	if off == 0 {
		en.hdrLen = copy(en.hdr[:], p[:40])
		en.hdr[6] = p[40] // next header of the fragmentable part
	}
	if !en.complete() {
		return nil, ReasmPending, 0
	}
	n := 40 + en.total
	if n > len(out) || en.total > MaxDatagram-40 {
		r.drop(k, en)
		return nil, ReasmDropped, 0
	}
	w := out[:n]
	copy(w, en.hdr[:40])
	copy(w[40:], en.data[:en.total])
	be.PutUint16(w[4:], uint16(en.total))
	r.drop(k, en)
	return w, ReasmDone, 0
}
