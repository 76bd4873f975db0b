package gnmi

import gpb "github.com/openconfig/gnmi/proto/gnmi"

// Relations between a subscription path S, which may hold wildcards, and
// the concrete path E of something that changed.

// covers reports whether S selects E or an ancestor of E: a change at E
// is a change of what S selects.
func covers(s, e []*gpb.PathElem) bool {
	if len(s) == 0 {
		return true
	}
	if s[0].Name == "..." {
		for k := 0; k <= len(e); k++ {
			if covers(s[1:], e[k:]) {
				return true
			}
		}
		return false
	}
	if len(e) == 0 || !elemMatch(s[0], e[0]) {
		return false
	}
	return covers(s[1:], e[1:])
}

// under reports whether E is a proper ancestor of something S may select:
// a list entry created or deleted at E may hold nodes S selects.
func under(s, e []*gpb.PathElem) bool {
	if len(e) == 0 {
		return len(s) > 0
	}
	if len(s) == 0 {
		return false
	}
	if s[0].Name == "..." {
		return true
	}
	if !elemMatch(s[0], e[0]) {
		return false
	}
	return under(s[1:], e[1:])
}

// related reports whether a change at E concerns S at all.
func related(s, e []*gpb.PathElem) bool { return covers(s, e) || under(s, e) }

// elemMatch matches a pattern element against a concrete one: "*" names,
// "*" and absent keys match anything.
func elemMatch(p, e *gpb.PathElem) bool {
	if p.Name != "*" && stripModule(p.Name) != stripModule(e.Name) {
		return false
	}
	for k, v := range p.Key {
		if v != "*" && e.Key[k] != v {
			return false
		}
	}
	return true
}

// hasPrefix reports whether concrete path p starts with concrete path pre.
func hasPrefix(p, pre []*gpb.PathElem) bool {
	if len(pre) > len(p) {
		return false
	}
	for i, e := range pre {
		if !elemMatch(e, p[i]) || len(e.Key) != len(p[i].Key) {
			return false
		}
	}
	return true
}
