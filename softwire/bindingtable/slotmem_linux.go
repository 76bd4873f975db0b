package bindingtable

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const hugePage = 2 << 20

// mapSlots maps n slots aligned to a 2 MB boundary and asks for huge
// pages; nil when the mapping fails (the caller uses the Go heap).
func mapSlots(n int) ([]slot, []byte) {
	size := n * slotSize
	mem, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, nil
	}
	off := 0
	if r := int(uintptr(unsafe.Pointer(&mem[0])) % hugePage); r != 0 {
		off = hugePage - r
	}
	_ = unix.Madvise(mem[off:off+size], unix.MADV_HUGEPAGE)
	return unsafe.Slice((*slot)(unsafe.Pointer(&mem[off])), n), mem
}

func unmapSlots(mem []byte) { _ = unix.Munmap(mem) }
