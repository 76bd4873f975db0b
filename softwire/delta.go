package softwire

import (
	"fmt"
	"strconv"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

// bindingDelta is what a commit changes in the binding table: entries that
// disappear or change (removed, with their old content) and entries that
// appear or change (added, with their new content).
type bindingDelta struct {
	removed, added []lwaftr.Binding
}

type swKey = gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire_Key

// deltaOf reads a commit's changes: the binding-table entries they touch,
// compared as bindings (a rewrite to the same content changes nothing),
// and whether anything else of /softwire/lwaftr changed (settings). It
// looks at the changed entries only, never at the whole table.
func deltaOf(cs *schema.ChangeSet) (bindingDelta, bool, error) {
	var d bindingDelta
	settings := false
	seen := map[swKey]bool{}
	ob, nb := softwires(cs.Old), softwires(cs.New)
	for _, c := range cs.Changes {
		k, ok, err := bindingKey(c.Path)
		if err != nil {
			return d, false, err
		}
		if !ok {
			if isLwaftrPath(c.Path) {
				settings = true
			}
			continue
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		o, n := ob[k], nb[k]
		var oldB lwaftr.Binding
		var oldOK bool
		if o != nil {
			b, err := Binding(o)
			oldB, oldOK = b, err == nil
		}
		if n == nil {
			if oldOK {
				d.removed = append(d.removed, oldB)
			}
			continue
		}
		b, err := Binding(n)
		if err != nil {
			return d, false, schema.Errorf(schema.TagInvalidValue, bindingPath(k.Ipv4, k.Psid), "%v", err)
		}
		if oldOK && oldB == b {
			continue // a copy with the same content
		}
		if oldOK {
			d.removed = append(d.removed, oldB)
		}
		d.added = append(d.added, b)
	}
	return d, settings, nil
}

// isLwaftrPath reports whether p is at or below /softwire/lwaftr.
func isLwaftrPath(p *gpb.Path) bool {
	e := p.GetElem()
	return len(e) >= 2 && e[0].Name == "softwire" && e[1].Name == "lwaftr"
}

// bindingKey returns the key of the binding-table entry at or above p, ok
// false when p is not inside one.
func bindingKey(p *gpb.Path) (swKey, bool, error) {
	e := p.GetElem()
	if len(e) < 4 || !isLwaftrPath(p) || e[2].Name != "binding-table" || e[3].Name != "softwire" || e[3].Key == nil {
		return swKey{}, false, nil
	}
	psid, err := strconv.ParseUint(e[3].Key["psid"], 10, 16)
	if err != nil {
		return swKey{}, false, schema.Errorf(schema.TagInvalidValue, p, "psid %q: %v", e[3].Key["psid"], err)
	}
	return swKey{Ipv4: e[3].Key["ipv4"], Psid: uint16(psid)}, true, nil
}

func softwires(d *gen.Device) map[swKey]*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire {
	if bt := d.GetSoftwire().GetLwaftr().GetBindingTable(); bt != nil {
		return bt.Softwire
	}
	return nil
}

// checkDelta checks the added entries and that, after the delta, every
// address still has a single port-set split.
func checkDelta(d bindingDelta, splits map[uint32]split) error {
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
			return schema.Errorf(schema.TagInvalidValue, bindingPath(ipString(b.IPv4), b.PSID),
				"psid does not fit in psid-length %d", b.PortSet.Length)
		}
		sp := get(b.IPv4)
		if sp.count > 0 && sp.ps != b.PortSet {
			return schema.Errorf(schema.TagInvalidValue, bindingPath(ipString(b.IPv4), b.PSID),
				"port-set differs from another softwire of %s: every softwire of an address must split its ports the same way", ipString(b.IPv4))
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
