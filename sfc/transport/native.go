package transport

import (
	"encoding/binary"
	"unsafe"
)

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

// putNative32 writes an int-sized cmsg value in host order.
func putNative32(b []byte, v uint32) { binary.NativeEndian.PutUint32(b, v) }
