package lwaftr

import (
	"fmt"
	"net/netip"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
)

// NewTable builds a binding table holding bindings.
func NewTable(bindings []Binding) (*bindingtable.Table, error) {
	bt := bindingtable.New(len(bindings))
	for _, b := range bindings {
		if err := bt.Add(b); err != nil {
			return nil, fmt.Errorf("softwire %s psid %d: %w", netip.AddrFrom4([4]byte{byte(b.IPv4 >> 24), byte(b.IPv4 >> 16), byte(b.IPv4 >> 8), byte(b.IPv4)}), b.PSID, err)
		}
	}
	return bt, nil
}
