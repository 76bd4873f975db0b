// Package bindingtable is the lwAFTR binding table: which B4 (IPv6 tunnel
// endpoint) owns an IPv4 address and port set (RFC 7596, RFC 7597 §5.1).
// Lookups by (IPv4, port) take two hash probes whatever the table size;
// an entry takes 24 bytes of slot; adds and removes are O(1) and touch
// nothing else, so the data plane can apply them between two batches.
package bindingtable

import "fmt"

// PortSet describes how the 16-bit port splits (RFC 7597 §5.1): Offset
// leading bits ("a"), then Length bits of PSID ("k"), then the rest ("m").
type PortSet struct {
	Offset uint8
	Length uint8
}

// Valid reports whether the split fits in 16 bits.
func (p PortSet) Valid() error {
	if int(p.Offset)+int(p.Length) > 16 {
		return fmt.Errorf("psid-offset %d plus psid-length %d exceeds 16", p.Offset, p.Length)
	}
	return nil
}

// PSID extracts the port set identifier of port.
func (p PortSet) PSID(port uint16) uint16 {
	if p.Length == 0 {
		return 0
	}
	return uint16(port<<p.Offset) >> (16 - p.Length)
}
