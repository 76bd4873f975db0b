package bindingtable

import (
	"errors"
	"fmt"
	"unsafe"
)

// Softwire is one binding as the caller hands it in.
type Softwire struct {
	IPv4    uint32
	PSID    uint16
	PortSet PortSet
	B4      [16]byte
	BR      [16]byte
}

// slot is one open-addressing bucket: 24 bytes. br == 0 marks it empty,
// br == tombstone (only in a table being drained) a removed entry; BR
// addresses are interned (there are few), numbered from 1.
type slot struct {
	ipv4 uint32
	psid uint16
	br   uint16
	b4   [16]byte
}

const tombstone = 0xffff

// addrInfo is what the table knows of one IPv4 address: its port-set
// split and how many softwires use it.
type addrInfo struct {
	ps   PortSet
	refs uint32
}

// Table is the binding table. It is not safe for concurrent use: the data
// plane that owns it applies changes between batches.
//
// Growing never stops the world: a full table gets a new array twice the
// size, and every later change moves a few entries of the old array over
// (lookups meanwhile look in both), so no single change costs more than
// a few hundred slot moves.
type Table struct {
	slots []slot
	cap   uint32 // len(slots): any size, homes by multiply-shift
	count int

	// old is the array being drained into slots after a growth; next is
	// the first of its slots not yet moved.
	old    []slot
	oldCap uint32
	next   int

	// mem owns the memory of slots and old when it is not Go heap (see
	// allocSlots); freed with the table.
	mem *slotMem

	addrs map[uint32]addrInfo
	// prefixCount counts the addresses of addrs in each /16 (256 KB).
	prefixCount []uint32
	// psCount counts addresses per port-set split. With a single split
	// in use (the usual deployment), lookups skip the address map.
	psCount map[PortSet]int
	uniform PortSet
	single  bool

	brs    [][16]byte // index 0 unused
	brRefs []uint32
	brIdx  map[[16]byte]uint16
	brFree []uint16
}

// migrateStep is how many old slots each change moves.
const migrateStep = 64

// ErrTooManyBRs is returned when more than 65534 distinct BR addresses
// are used.
var ErrTooManyBRs = errors.New("binding table: more than 65534 distinct br-address values")

// New returns a table sized for n softwires without growing.
func New(n int) *Table {
	t := &Table{brs: make([][16]byte, 1), brRefs: make([]uint32, 1), brIdx: map[[16]byte]uint16{},
		addrs: make(map[uint32]addrInfo, n/16), psCount: map[PortSet]int{}, prefixCount: make([]uint32, 1<<16)}
	t.mem = newSlotMem(t)
	t.slots, t.cap = t.mem.alloc(capacityFor(n)), uint32(capacityFor(n))
	return t
}

// maxLoad is the fill (in 1/100) at which the table grows. Linear
// probing at 85 % still finds an entry in about 3.8 slots on average,
// which is one or two cache lines the batch path touches ahead of time;
// capacityFor sizes a new table to 80 %, so 1M bindings take 1.25M
// slots (30 bytes each) instead of a power of two.
const maxLoad = 85

// capacityFor returns a slot count that holds n at 80 % load.
func capacityFor(n int) int {
	return max(16, n*5/4+1)
}

// Len is the number of softwires.
func (t *Table) Len() int { return t.count }

// Bytes is the memory held by the table's arrays (the address map
// estimated at 16 bytes an entry), for the bytes-per-binding figure.
func (t *Table) Bytes() int {
	return (len(t.slots)+len(t.old))*slotSize + len(t.addrs)*16 + len(t.prefixCount)*4 + len(t.brs)*(16+4+24)
}

const slotSize = int(unsafe.Sizeof(slot{}))

// hash mixes a key (Fibonacci hashing: the high bits, which home uses,
// depend on every bit of the key).
func hash(k uint64) uint64 { return k * 0x9e3779b97f4a7c15 }

// home maps a key to a slot of an array of n: the high 32 bits of the
// hash scaled to n (Lemire's multiply-shift, no power of two needed).
func home(ipv4 uint32, psid uint16, n uint32) uint32 {
	return uint32((hash(uint64(ipv4)<<16|uint64(psid)) >> 32) * uint64(n) >> 32)
}

func (t *Table) find(ipv4 uint32, psid uint16) (uint32, bool) {
	i := home(ipv4, psid, t.cap)
	for {
		s := &t.slots[i]
		if s.br == 0 {
			return i, false
		}
		if s.ipv4 == ipv4 && s.psid == psid {
			return i, true
		}
		if i++; i == t.cap {
			i = 0
		}
	}
}

// findOld looks in the array being drained, where removed entries are
// tombstones so the probe sequences of the others stay intact.
func (t *Table) findOld(ipv4 uint32, psid uint16) (uint32, bool) {
	if t.old == nil {
		return 0, false
	}
	i := home(ipv4, psid, t.oldCap)
	for {
		s := &t.old[i]
		if s.br == 0 {
			return i, false
		}
		if s.br != tombstone && s.ipv4 == ipv4 && s.psid == psid {
			return i, true
		}
		if i++; i == t.oldCap {
			i = 0
		}
	}
}

func (t *Table) place(s slot) {
	i := home(s.ipv4, s.psid, t.cap)
	for t.slots[i].br != 0 {
		if i++; i == t.cap {
			i = 0
		}
	}
	t.slots[i] = s
}

// grow starts draining the current array into one twice its size. A
// drain still running is finished first (it is nearly done by then).
func (t *Table) grow() {
	t.migrate(len(t.old))
	t.old, t.oldCap, t.next = t.slots, t.cap, 0
	n := len(t.slots) * 2
	t.slots, t.cap = t.mem.alloc(n), uint32(n)
}

// migrate moves up to n old slots into the current array.
func (t *Table) migrate(n int) {
	for ; n > 0 && t.old != nil; n-- {
		if t.next == len(t.old) {
			t.mem.free(t.old)
			t.old = nil
			return
		}
		if s := t.old[t.next]; s.br != 0 && s.br != tombstone {
			t.place(s)
		}
		t.next++
	}
}

// Migrate moves up to n slots of a pending growth; the data plane calls
// it between batches so a growth completes even without further changes.
func (t *Table) Migrate(n int) { t.migrate(n) }

// Add inserts or replaces a softwire. Every softwire of one IPv4 address
// must use the same port-set split.
func (t *Table) Add(sw Softwire) error {
	if err := sw.PortSet.Valid(); err != nil {
		return err
	}
	if sw.PortSet.Length < 16 && sw.PSID>>sw.PortSet.Length != 0 {
		return fmt.Errorf("psid %d does not fit in psid-length %d", sw.PSID, sw.PortSet.Length)
	}
	a, aok := t.addrs[sw.IPv4]
	if aok && a.ps != sw.PortSet {
		return fmt.Errorf("%s: port set (offset %d, length %d) differs from the other softwires of the address (offset %d, length %d)",
			fmtIPv4(sw.IPv4), sw.PortSet.Offset, sw.PortSet.Length, a.ps.Offset, a.ps.Length)
	}
	br, err := t.internBR(sw.BR)
	if err != nil {
		return err
	}
	defer t.migrate(migrateStep)
	if i, ok := t.find(sw.IPv4, sw.PSID); ok {
		t.releaseBR(t.slots[i].br)
		t.slots[i].br, t.slots[i].b4 = br, sw.B4
		return nil
	}
	if j, ok := t.findOld(sw.IPv4, sw.PSID); ok {
		// Replace a not yet moved entry: the new one goes to the current
		// array, the old one must never be moved.
		t.releaseBR(t.old[j].br)
		t.old[j].br = tombstone
		t.count--
		a.refs--
	}
	t.place(slot{ipv4: sw.IPv4, psid: sw.PSID, br: br, b4: sw.B4})
	t.count++
	if !aok || a.refs == 0 {
		if !aok {
			t.countPortSet(sw.PortSet, 1)
		}
		a.ps = sw.PortSet
	}
	if !aok {
		t.prefixCount[sw.IPv4>>16]++
	}
	a.refs++
	t.addrs[sw.IPv4] = a
	if t.count*100 > len(t.slots)*maxLoad {
		t.grow()
	}
	return nil
}

// Remove deletes the softwire of (ipv4, psid) and reports whether it
// existed.
func (t *Table) Remove(ipv4 uint32, psid uint16) bool {
	defer t.migrate(migrateStep)
	if i, ok := t.find(ipv4, psid); ok {
		t.releaseBR(t.slots[i].br)
		t.removeAt(i)
	} else if j, ok := t.findOld(ipv4, psid); ok {
		t.releaseBR(t.old[j].br)
		t.old[j].br = tombstone
	} else {
		return false
	}
	t.count--
	a := t.addrs[ipv4]
	if a.refs--; a.refs == 0 {
		delete(t.addrs, ipv4)
		t.prefixCount[ipv4>>16]--
		t.countPortSet(a.ps, -1)
	} else {
		t.addrs[ipv4] = a
	}
	return true
}

// removeAt empties slot i of the current array and shifts the following
// run back, so lookups there never need tombstones.
func (t *Table) removeAt(i uint32) {
	t.slots[i] = slot{}
	// dist is how far b is after a going round the array.
	dist := func(a, b uint32) uint32 {
		if b >= a {
			return b - a
		}
		return b + t.cap - a
	}
	next := func(j uint32) uint32 {
		if j++; j == t.cap {
			return 0
		}
		return j
	}
	for j := next(i); t.slots[j].br != 0; j = next(j) {
		s := t.slots[j]
		h := home(s.ipv4, s.psid, t.cap)
		// Move s into the hole at i when its home is not in (i, j].
		if dist(h, j) >= dist(i, j) {
			t.slots[i] = s
			t.slots[j] = slot{}
			i = j
		}
	}
}

func (t *Table) countPortSet(ps PortSet, d int) {
	t.psCount[ps] += d
	if t.psCount[ps] == 0 {
		delete(t.psCount, ps)
	}
	t.single = len(t.psCount) == 1
	for p := range t.psCount {
		t.uniform = p
	}
}

func (t *Table) internBR(a [16]byte) (uint16, error) {
	if i, ok := t.brIdx[a]; ok {
		t.brRefs[i]++
		return i, nil
	}
	var i uint16
	if n := len(t.brFree); n > 0 {
		i = t.brFree[n-1]
		t.brFree = t.brFree[:n-1]
		t.brs[i] = a
		t.brRefs[i] = 1
	} else {
		if len(t.brs) >= tombstone {
			return 0, ErrTooManyBRs
		}
		i = uint16(len(t.brs))
		t.brs = append(t.brs, a)
		t.brRefs = append(t.brRefs, 1)
	}
	t.brIdx[a] = i
	return i, nil
}

func (t *Table) releaseBR(i uint16) {
	t.brRefs[i]--
	if t.brRefs[i] == 0 {
		delete(t.brIdx, t.brs[i])
		t.brFree = append(t.brFree, i)
	}
}

// PortSetOf returns the port-set split of an address and whether any
// softwire uses the address.
func (t *Table) PortSetOf(ipv4 uint32) (PortSet, bool) {
	a, ok := t.addrs[ipv4]
	return a.ps, ok
}

// HasAddress reports whether any softwire uses ipv4. The data plane
// asks it of every decapsulated packet's destination (hairpinning), and
// nearly always about an address of the Internet: the count of bound
// addresses per /16 answers those without the map (operators' pools are
// a few prefixes).
func (t *Table) HasAddress(ipv4 uint32) bool {
	if t.prefixCount[ipv4>>16] == 0 {
		return false
	}
	_, ok := t.addrs[ipv4]
	return ok
}

// Lookup finds the softwire owning (ipv4, port). The returned pointers
// point into the table and stay valid until the next change.
func (t *Table) Lookup(ipv4 uint32, port uint16) (b4, br *[16]byte, ok bool) {
	var psid uint16
	if t.single {
		// One split for every address: an address without softwires
		// simply has no slot either.
		psid = t.uniform.PSID(port)
	} else {
		a, aok := t.addrs[ipv4]
		if !aok {
			return nil, nil, false
		}
		psid = a.ps.PSID(port)
	}
	if i, found := t.find(ipv4, psid); found {
		s := &t.slots[i]
		return &s.b4, &t.brs[s.br], true
	}
	if j, found := t.findOld(ipv4, psid); found {
		s := &t.old[j]
		return &s.b4, &t.brs[s.br], true
	}
	return nil, nil, false
}

// Home returns where a Lookup of (ipv4, port) reads first, for Touch:
// the home slot of the softwire when every address shares one port-set
// split. It returns noHome otherwise.
func (t *Table) Home(ipv4 uint32, port uint16) uint32 {
	if !t.single {
		return noHome
	}
	return home(ipv4, t.uniform.PSID(port), t.cap)
}

const noHome = 1<<32 - 1

// Touch loads the memory at h (from Home) and returns a value read there.
// Calling Home for a whole batch and then Touch for each lets the
// processor fetch the cache lines of many packets at once instead of
// waiting for each lookup in turn.
func (t *Table) Touch(h uint32) uint32 {
	if h >= t.cap {
		return 0
	}
	// The entry is usually within two slots of its home (linear
	// probing at up to 85 % load): load the line after it too.
	v := t.slots[h].ipv4
	if j := h + 2; j < t.cap {
		v += t.slots[j].ipv4
	}
	return v
}

// Get returns the softwire stored under (ipv4, psid).
func (t *Table) Get(ipv4 uint32, psid uint16) (Softwire, bool) {
	var s slot
	if i, ok := t.find(ipv4, psid); ok {
		s = t.slots[i]
	} else if j, ok := t.findOld(ipv4, psid); ok {
		s = t.old[j]
	} else {
		return Softwire{}, false
	}
	return Softwire{IPv4: ipv4, PSID: psid, PortSet: t.addrs[ipv4].ps, B4: s.b4, BR: t.brs[s.br]}, true
}

// IsBR reports whether addr is the br-address of some softwire.
func (t *Table) IsBR(addr *[16]byte) bool {
	_, ok := t.brIdx[*addr]
	return ok
}

func fmtIPv4(a uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", a>>24, a>>16&255, a>>8&255, a&255)
}
