package softwire

import (
	"strings"
	"testing"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

func TestCheckDelta(t *testing.T) {
	six, eight := bindingtable.PortSet{Length: 6}, bindingtable.PortSet{Length: 8}
	splits := map[uint32]split{1: {ps: six, count: 2}}
	b := func(psid uint16, ps bindingtable.PortSet) lwaftr.Binding {
		return lwaftr.Binding{IPv4: 1, PSID: psid, PortSet: ps}
	}
	// Changing the split of one softwire while another keeps the old one.
	d := bindingDelta{removed: []lwaftr.Binding{b(1, six)}, added: []lwaftr.Binding{b(1, eight)}}
	if err := checkDelta(d, splits); err == nil || !strings.Contains(err.Error(), "port-set differs") {
		t.Fatalf("mixed splits accepted: %v", err)
	}
	// Changing both: the address moves to the new split as a whole.
	d = bindingDelta{removed: []lwaftr.Binding{b(1, six), b(2, six)}, added: []lwaftr.Binding{b(1, eight), b(2, eight)}}
	if err := checkDelta(d, splits); err != nil {
		t.Fatalf("whole-address change refused: %v", err)
	}
	applySplitDelta(splits, d)
	if splits[1] != (split{ps: eight, count: 2}) {
		t.Fatalf("splits after delta: %+v", splits)
	}
	d = bindingDelta{added: []lwaftr.Binding{b(300, eight)}}
	if err := checkDelta(d, splits); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("psid too long accepted: %v", err)
	}
}
