package cli

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/util"
)

// What the CLI reads from the schema: the children of a node as words, the
// key leaves of a list, the type of a leaf as help text and as a check of
// a typed value. It works on any goyang entry tree, not only ours: the
// tests prove it on a tree they build.

type childKey struct {
	e     *yang.Entry
	state bool
}

var childCache sync.Map // childKey -> []*yang.Entry

// children returns the data nodes below e by name, choices and cases
// looked through; with state false only configuration nodes.
func children(e *yang.Entry, state bool) []*yang.Entry {
	if e == nil {
		return nil
	}
	k := childKey{e, state}
	if v, ok := childCache.Load(k); ok {
		return v.([]*yang.Entry)
	}
	var out []*yang.Entry
	var add func(p *yang.Entry)
	add = func(p *yang.Entry) {
		for _, c := range p.Dir {
			switch {
			case c.IsChoice() || c.IsCase():
				add(c)
			case c.Kind == yang.NotificationEntry || c.RPC != nil:
			case !state && c.ReadOnly():
			default:
				out = append(out, c)
			}
		}
	}
	add(e)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	childCache.Store(k, out)
	return out
}

// matchWord finds the word a user typed among names: the exact word, else
// the only name it is a prefix of. It returns the candidates when the
// prefix is ambiguous.
func matchWord(word string, names []string) (string, []string) {
	var cands []string
	for _, n := range names {
		if n == word {
			return n, nil
		}
		if strings.HasPrefix(n, word) {
			cands = append(cands, n)
		}
	}
	if len(cands) == 1 {
		return cands[0], nil
	}
	return "", cands
}

// closest returns the name nearest to word by edit distance, "" if none is
// near enough to be a plausible typo.
func closest(word string, names []string) string {
	best, bestD := "", 1<<30
	for _, n := range names {
		d := editDistance(word, n)
		if strings.HasPrefix(n, word) || strings.HasPrefix(word, n) {
			d = min(d, abs(len(n)-len(word)))
		}
		if d < bestD {
			best, bestD = n, d
		}
	}
	if bestD > max(2, len(word)/2) {
		return ""
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func names(es []*yang.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

// listKeys returns the key leaf names of a list, in key order.
func listKeys(list *yang.Entry) []string { return strings.Fields(list.Key) }

// keyLeaf returns the schema of key k of list.
func keyLeaf(list *yang.Entry, k string) *yang.Entry { return list.Dir[k] }

// leafType returns the type values of a leaf are checked against: a
// leafref's target type where it resolves.
func leafType(leaf *yang.Entry) *yang.YangType {
	t := leaf.Type
	if t != nil && t.Kind == yang.Yleafref {
		if target, err := util.ResolveIfLeafRef(leaf); err == nil && target != nil && target.Type != nil {
			return target.Type
		}
	}
	return t
}

// describeType is the help text of a leaf's type: its name, range or
// length, values, units and default.
func describeType(leaf *yang.Entry) string {
	t := leaf.Type
	if t == nil {
		return ""
	}
	var parts []string
	name := t.Name
	if t.Kind == yang.Yleafref {
		name = "leafref " + t.Path
	}
	parts = append(parts, name)
	rt := leafType(leaf)
	parts = append(parts, typeDetails(rt)...)
	if leaf.Units != "" {
		parts = append(parts, "units "+leaf.Units)
	}
	if d, ok := leaf.SingleDefaultValue(); ok {
		parts = append(parts, "default "+d)
	}
	return strings.Join(parts, ", ")
}

func typeDetails(t *yang.YangType) []string {
	if t == nil {
		return nil
	}
	var parts []string
	if isIntKind(t.Kind) {
		if len(t.Range) > 0 {
			parts = append(parts, "range "+t.Range.String())
		} else {
			parts = append(parts, "range "+yang.BaseTypedefs[t.Kind.String()].YangType.Range.String())
		}
	}
	if t.Kind == yang.Ystring && len(t.Length) > 0 {
		parts = append(parts, "length "+t.Length.String())
	}
	if vals := enumValues(t); len(vals) > 0 {
		parts = append(parts, "one of "+strings.Join(vals, "|"))
	}
	if t.Kind == yang.Yunion {
		var ms []string
		for _, m := range t.Type {
			ms = append(ms, m.Name)
		}
		parts = append(parts, "one of the types "+strings.Join(ms, ", "))
	}
	return parts
}

func isIntKind(k yang.TypeKind) bool {
	switch k {
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64, yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64:
		return true
	}
	return false
}

// enumValues lists the words a leaf of type t takes when they are a fixed
// set: enumeration names, identities, booleans.
func enumValues(t *yang.YangType) []string {
	if t == nil {
		return nil
	}
	switch t.Kind {
	case yang.Yenum:
		if t.Enum != nil {
			vals := t.Enum.Names()
			sort.Strings(vals)
			return vals
		}
	case yang.Ybool:
		return []string{"false", "true"}
	case yang.Yidentityref:
		if t.IdentityBase != nil {
			var vals []string
			for _, id := range t.IdentityBase.Values {
				vals = append(vals, id.Name)
			}
			sort.Strings(vals)
			return vals
		}
	case yang.Yunion:
		var vals []string
		for _, m := range t.Type {
			vals = append(vals, enumValues(m)...)
		}
		return vals
	}
	return nil
}

// checkValue checks text against the type of leaf, with a message that
// gives the range, length, pattern or values the schema allows. The core
// checks everything again at commit; this is for the error to point at
// the word typed.
func checkValue(leaf *yang.Entry, text string) error {
	t := leafType(leaf)
	if t == nil {
		return nil
	}
	return checkType(t, text)
}

func checkType(t *yang.YangType, text string) error {
	switch {
	case isIntKind(t.Kind):
		rng := t.Range
		if len(rng) == 0 {
			rng = yang.BaseTypedefs[t.Kind.String()].YangType.Range
		}
		var n yang.Number
		if strings.HasPrefix(t.Kind.String(), "uint") {
			u, err := strconv.ParseUint(text, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a number in the range %s", text, rng)
			}
			n = yang.FromUint(u)
		} else {
			i, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a number in the range %s", text, rng)
			}
			n = yang.FromInt(i)
		}
		if !inRange(rng, n) {
			return fmt.Errorf("value %s is outside the range %s", text, rng)
		}
	case t.Kind == yang.Ybool:
		if text != "true" && text != "false" {
			return fmt.Errorf("%q is not a boolean: true or false", text)
		}
	case t.Kind == yang.Yenum || t.Kind == yang.Yidentityref:
		vals := enumValues(t)
		name := text
		if i := strings.IndexByte(name, ':'); i >= 0 && t.Kind == yang.Yidentityref {
			name = name[i+1:]
		}
		for _, v := range vals {
			if v == name {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", text, strings.Join(vals, "|"))
	case t.Kind == yang.Yunion:
		var errs []string
		for _, m := range t.Type {
			err := checkType(m, text)
			if err == nil {
				return nil
			}
			errs = append(errs, m.Name)
		}
		return fmt.Errorf("%q is none of the types %s", text, strings.Join(errs, ", "))
	case t.Kind == yang.Ydecimal64:
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			return fmt.Errorf("%q is not a decimal number", text)
		}
	case t.Kind == yang.Ystring:
		if err := checkAddress(t.Name, text); err != nil {
			return err
		}
		if isAddressName(t.Name) {
			return nil
		}
		if len(t.Length) > 0 && !inRange(t.Length, yang.FromInt(int64(utf8.RuneCountInString(text)))) {
			return fmt.Errorf("%q has length %d, outside the length %s", text, utf8.RuneCountInString(text), t.Length)
		}
		for _, re := range patterns(t) {
			if !re.MatchString(text) {
				return fmt.Errorf("%q does not match the pattern %s of %s", text, re, t.Name)
			}
		}
	}
	return nil
}

func isAddressName(name string) bool {
	switch name {
	case "ipv4-address", "ipv6-address", "ip-address", "ipv4-prefix", "ipv6-prefix", "ip-prefix":
		return true
	}
	return false
}

// checkAddress parses the address types by what they are rather than by
// their patterns, as the core does.
func checkAddress(name, text string) error {
	bad := func() error { return fmt.Errorf("%q is not a valid %s", text, name) }
	switch name {
	case "ipv4-address", "ipv6-address", "ip-address":
		a, err := netip.ParseAddr(text)
		if err != nil || (name == "ipv4-address" && !a.Is4()) || (name == "ipv6-address" && !a.Is6()) {
			return bad()
		}
	case "ipv4-prefix", "ipv6-prefix", "ip-prefix":
		p, err := netip.ParsePrefix(text)
		if err != nil || (name == "ipv4-prefix" && !p.Addr().Is4()) || (name == "ipv6-prefix" && !p.Addr().Is6()) {
			return bad()
		}
	}
	return nil
}

var patternCache sync.Map // *yang.YangType -> []*regexp.Regexp

func patterns(t *yang.YangType) []*regexp.Regexp {
	if v, ok := patternCache.Load(t); ok {
		return v.([]*regexp.Regexp)
	}
	var out []*regexp.Regexp
	pats, posix := util.SanitizedPattern(t)
	for _, p := range pats {
		var re *regexp.Regexp
		var err error
		if posix {
			re, err = regexp.CompilePOSIX(p)
		} else {
			re, err = regexp.Compile(p)
		}
		if err == nil {
			out = append(out, re)
		}
	}
	patternCache.Store(t, out)
	return out
}

func inRange(r yang.YangRange, n yang.Number) bool {
	for _, yr := range r {
		if !n.Less(yr.Min) && !yr.Max.Less(n) {
			return true
		}
	}
	return false
}

// firstLine is the first sentence-ish line of a description, for help.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i+1]
	}
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}
