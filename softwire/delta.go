package softwire

import (
	"fmt"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

// bindingDelta is what changes between two binding tables: entries that
// disappear or change (removed, with their old content) and entries that
// appear or change (added, with their new content).
type bindingDelta struct {
	removed, added []lwaftr.Binding
	err            error
}

// maxDelta is the share of a table above which a delta is not worth it
// and callers look at the whole table instead.
const maxDeltaShare = 4

// diffBindings compares two trees' binding tables by entry pointer: the
// server's copy-on-write trees share untouched entries, so a one-entry
// edit costs one pointer walk and one parse. It reports false when there
// is no base tree or most of the table changed.
func diffBindings(old, new *gen.Device) (bindingDelta, bool) {
	if old == nil {
		return bindingDelta{}, false
	}
	ob, nb := softwires(old), softwires(new)
	var d bindingDelta
	changed := 0
	for k, sw := range nb {
		o, ok := ob[k]
		if ok && o == sw {
			continue
		}
		changed++
		if changed > len(nb)/maxDeltaShare+16 {
			return bindingDelta{}, false
		}
		b, err := Binding(sw)
		if err != nil {
			d.err = fmt.Errorf("/softwire/lwaftr/binding-table/softwire[ipv4=%s][psid=%d]: %w", k.Ipv4, k.Psid, err)
			return d, true
		}
		if ok {
			ob, err := Binding(o)
			if err == nil && ob == b {
				continue // a copy with the same content
			}
			if err == nil {
				d.removed = append(d.removed, ob)
			}
		}
		d.added = append(d.added, b)
	}
	for k, sw := range ob {
		if _, ok := nb[k]; ok {
			continue
		}
		if b, err := Binding(sw); err == nil {
			d.removed = append(d.removed, b)
		}
	}
	return d, true
}

// fullDiff removes everything of old and adds everything of new; it is
// the fallback when most of the table changes.
func fullDiff(old, new *gen.Device) bindingDelta {
	var d bindingDelta
	for _, sw := range softwires(old) {
		if b, err := Binding(sw); err == nil {
			d.removed = append(d.removed, b)
		}
	}
	for k, sw := range softwires(new) {
		b, err := Binding(sw)
		if err != nil {
			d.err = fmt.Errorf("/softwire/lwaftr/binding-table/softwire[ipv4=%s][psid=%d]: %w", k.Ipv4, k.Psid, err)
			return d
		}
		d.added = append(d.added, b)
	}
	return d
}

// checkDelta checks the added entries and that, after the delta, every
// address still has a single port-set split.
func checkDelta(d bindingDelta, splits map[uint32]split) error {
	if d.err != nil {
		return d.err
	}
	after := map[uint32]split{}
	get := func(a uint32) split {
		if sp, ok := after[a]; ok {
			return sp
		}
		return splits[a]
	}
	for _, b := range d.removed {
		sp := get(b.IPv4)
		sp.count--
		after[b.IPv4] = sp
	}
	for _, b := range d.added {
		if b.PortSet.Length < 16 && b.PSID>>b.PortSet.Length != 0 {
			return fmt.Errorf("/softwire/lwaftr/binding-table/softwire[ipv4=%s][psid=%d]: psid does not fit in psid-length %d", ipString(b.IPv4), b.PSID, b.PortSet.Length)
		}
		sp := get(b.IPv4)
		if sp.count > 0 && sp.ps != b.PortSet {
			return fmt.Errorf("/softwire/lwaftr/binding-table/softwire[ipv4=%s][psid=%d]: port-set differs from another softwire of %s: every softwire of an address must split its ports the same way", ipString(b.IPv4), b.PSID, ipString(b.IPv4))
		}
		after[b.IPv4] = split{ps: b.PortSet, count: sp.count + 1}
	}
	return nil
}

// applySplitDelta updates splits after a delta was applied.
func applySplitDelta(splits map[uint32]split, d bindingDelta) {
	for _, b := range d.removed {
		sp := splits[b.IPv4]
		if sp.count--; sp.count <= 0 {
			delete(splits, b.IPv4)
		} else {
			splits[b.IPv4] = sp
		}
	}
	for _, b := range d.added {
		sp := splits[b.IPv4]
		splits[b.IPv4] = split{ps: b.PortSet, count: sp.count + 1}
	}
}

func ipString(a uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", a>>24, a>>16&255, a>>8&255, a&255)
}
