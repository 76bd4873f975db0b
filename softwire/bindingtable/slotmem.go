package bindingtable

import (
	"runtime"
	"time"
)

// slotMem hands out slot arrays. Large arrays come from anonymous
// mappings the kernel is asked to back with 2 MB pages where it can
// (Linux transparent huge pages, madvise mode): a lookup in a 1M-binding
// table is one random access into 30+ MB, and with 4 KB pages every one
// of them is also a TLB miss whose page walk costs as much as the access
// (more under a hypervisor's nested paging). The arrays hold no Go
// pointers, so the garbage collector has nothing to see in them.
type slotMem struct {
	maps map[*slot][]byte // array start -> its mapping
}

// hugeMin is the size from which an array gets its own mapping.
const hugeMin = 2 << 20

func newSlotMem(owner *Table) *slotMem {
	m := &slotMem{maps: map[*slot][]byte{}}
	runtime.AddCleanup(owner, func(m *slotMem) { m.freeAll() }, m)
	return m
}

// alloc returns n zeroed slots.
func (m *slotMem) alloc(n int) []slot {
	if n*slotSize >= hugeMin {
		if s, mem := mapSlots(n); s != nil {
			m.maps[&s[0]] = mem
			return s
		}
	}
	return make([]slot, n)
}

// free releases an array from alloc (Go heap arrays are left to the GC).
func (m *slotMem) free(s []slot) {
	if len(s) == 0 {
		return
	}
	if mem, ok := m.maps[&s[0]]; ok {
		delete(m.maps, &s[0])
		unmapSlots(mem)
	}
}

func (m *slotMem) freeAll() {
	for k, mem := range m.maps {
		delete(m.maps, k)
		unmapSlots(mem)
	}
}

func sleepBriefly() { time.Sleep(20 * time.Microsecond) }
