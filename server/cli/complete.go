package cli

import (
	"fmt"
	"sort"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
)

// cand is a possible next word: one to insert, or a placeholder such as
// <value> that only help lists.
type cand struct {
	word, help  string
	placeholder bool
}

// completion is what can follow the text before the cursor.
type completion struct {
	cur   token // the word being typed ("" at a blank)
	start int   // where it starts in the line
	cands []cand
}

// complete computes the candidates for the word at the end of line.
func (sess *session) complete(line string) completion {
	toks, _ := tokenize(line, true)
	c := completion{start: len(line)}
	if len(toks) > 0 && len(line) > 0 && line[len(line)-1] != ' ' && line[len(line)-1] != '\t' {
		c.cur = toks[len(toks)-1]
		c.start = c.cur.pos
		toks = toks[:len(toks)-1]
	}
	all := sess.nextWords(toks)
	for _, k := range all {
		if strings.HasPrefix(k.word, c.cur.text) || (k.placeholder && c.cur.text == "") {
			c.cands = append(c.cands, k)
		}
	}
	if len(c.cands) == 0 && c.cur.text != "" {
		for _, k := range all {
			if k.placeholder {
				c.cands = append(c.cands, k)
			}
		}
	}
	return c
}

// nextWords lists what may follow the complete words toks.
func (sess *session) nextWords(toks []token) []cand {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].text == "|" && !toks[i].quoted {
			return pipeCands(toks[i+1:], sess.cfg != nil)
		}
	}
	if sess.cfg != nil {
		return sess.cfg.nextWords(toks)
	}
	return sess.opNextWords(toks)
}

func verbCands(vs []verb) []cand {
	out := make([]cand, len(vs))
	for i, v := range vs {
		out[i] = cand{word: v.name, help: v.help}
	}
	return out
}

func pipeCands(st []token, configMode bool) []cand {
	if len(st) == 0 {
		cs := []cand{
			{word: "count", help: "Count the lines"},
			{word: "display", help: "Show as json (RFC 7951), xml or set commands"},
			{word: "except", help: "Lines not matching a regular expression"},
			{word: "match", help: "Lines matching a regular expression"},
			{word: "no-more", help: "Do not page the output"},
		}
		if configMode {
			cs = append([]cand{{word: "compare", help: "Diff of the candidate against running"}}, cs...)
		}
		return cs
	}
	w, _ := matchWord(st[0].text, pipeWords)
	switch {
	case w == "display" && len(st) == 1:
		return []cand{{word: "json", help: "RFC 7951 JSON"}, {word: "set", help: "The set commands that recreate it"}, {word: "xml", help: "NETCONF XML"}}
	case (w == "match" || w == "except") && len(st) == 1:
		return []cand{{word: "<regex>", help: "Regular expression (quote it if it has blanks)", placeholder: true}}
	}
	return []cand{{word: "<[Enter]>", help: "Run the command", placeholder: true}, {word: "|", help: "Pipe the output"}}
}

func (sess *session) opNextWords(toks []token) []cand {
	if len(toks) == 0 {
		return verbCands(opVerbs)
	}
	v, _ := matchWord(toks[0].text, verbNames(opVerbs))
	args := toks[1:]
	switch v {
	case "show":
		return sess.showCands(args)
	case "monitor":
		return pathCands(rootSchema(), nil, args, pathMode{state: true}, sess.srv.core.Running())
	}
	return []cand{{word: "<[Enter]>", help: "Run the command", placeholder: true}}
}

// showCands are the words after show: operator views and schema nodes.
func (sess *session) showCands(args []token) []cand {
	running := sess.srv.core.Running()
	if v, rest, _ := matchView(args); v != nil {
		switch v.words[len(v.words)-1] {
		case "configuration":
			return pathCands(rootSchema(), nil, rest, pathMode{}, running)
		case "session":
			if len(rest) == 0 {
				return append(bfdPeers(running), cand{word: "detail", help: "Every state leaf"}, cand{word: "<address>", help: "Peer address", placeholder: true})
			}
			return []cand{{word: "detail", help: "Every state leaf"}}
		case "binding-table":
			if len(rest) == 0 {
				return append([]cand{{word: "ipv4", help: "Bindings of one IPv4 address"}},
					pathCands(rootSchema(), nil, []token{{text: "softwire"}, {text: "lwaftr"}, {text: "binding-table"}}, pathMode{state: true}, running)...)
			}
			if len(rest) == 1 {
				return []cand{{word: "<ipv4-address>", help: "IPv4 address of the bindings", placeholder: true}}
			}
		}
		return []cand{{word: "<[Enter]>", help: "Run the command", placeholder: true}}
	}
	var out []cand
	seen := map[string]bool{}
	for _, v := range opViews {
		if len(v.words) <= len(args) {
			continue
		}
		ok := true
		for i, a := range args {
			if w, _ := matchWord(a.text, []string{v.words[i]}); w == "" {
				ok = false
			}
		}
		if ok && !seen[v.words[len(args)]] {
			seen[v.words[len(args)]] = true
			help := v.help
			if len(v.words) > len(args)+1 {
				help = ""
			}
			out = append(out, cand{word: v.words[len(args)], help: help})
		}
	}
	for _, c := range pathCands(rootSchema(), nil, args, pathMode{state: true}, running) {
		if !seen[c.word] {
			out = append(out, c)
			continue
		}
		// A view word that is also a schema node: the node's help.
		for i := range out {
			if out[i].word == c.word && out[i].help == "" {
				out[i].help = c.help
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].word < out[j].word })
	return out
}

func (c *configMode) nextWords(toks []token) []cand {
	if len(toks) == 0 {
		return verbCands(cfgVerbs)
	}
	v, _ := matchWord(toks[0].text, verbNames(cfgVerbs))
	args := toks[1:]
	start, base, _ := c.here()
	switch v {
	case "set":
		return pathCands(start, base, args, pathMode{value: true}, c.cand)
	case "delete":
		return pathCands(start, base, args, pathMode{value: true}, c.cand)
	case "edit", "show":
		return pathCands(start, base, args, pathMode{}, c.cand)
	case "commit":
		if n := len(args); n > 0 && args[n-1].text == "comment" {
			return []cand{{word: "<text>", help: "The comment kept in the commit history (in quotes if it has blanks)", placeholder: true}}
		} else if n > 0 && args[n-1].text == "confirmed" {
			return []cand{{word: "<minutes>", help: "Minutes until the commit is rolled back unless confirmed (range 1..65535, default 10)", placeholder: true},
				{word: "check", help: "Validate the candidate without committing"},
				{word: "comment", help: "Record a comment with the commit"},
				{word: "<[Enter]>", help: "Commit, rolled back in 10 minutes unless confirmed", placeholder: true}}
		}
		return []cand{{word: "check", help: "Validate the candidate without committing"},
			{word: "comment", help: "Record a comment with the commit"},
			{word: "confirmed", help: "Roll back after MINUTES (default 10) unless confirmed by commit"},
			{word: "<[Enter]>", help: "Commit", placeholder: true}}
	case "rollback":
		hist, _ := c.sess.srv.core.History()
		var out []cand
		for i, h := range hist {
			out = append(out, cand{word: fmt.Sprint(i), help: fmt.Sprintf("%s by %s via %s %s", h.Time.UTC().Format("2006-01-02 15:04:05"), h.User, h.Transport, h.Comment)})
		}
		return out
	case "exit":
		return []cand{{word: "discard", help: "Leave and drop the uncommitted changes"}, {word: "<[Enter]>", help: "Leave", placeholder: true}}
	case "run":
		cfg := c.sess.cfg
		c.sess.cfg = nil
		defer func() { c.sess.cfg = cfg }()
		return c.sess.opNextWords(args)
	}
	return []cand{{word: "<[Enter]>", help: "Run the command", placeholder: true}}
}

// bfdPeers are the peer addresses of the configured BFD sessions, for
// show bfd session.
func bfdPeers(running *gen.Device) []cand {
	seen := map[string]bool{}
	var out []cand
	add := func(addr, what string) {
		if addr != "" && !seen[addr] {
			seen[addr] = true
			out = append(out, cand{word: quoteWord(addr), help: what})
		}
	}
	if sh := running.GetBfd().GetSingleHop(); sh != nil {
		for k := range sh.Session {
			add(k.DestAddr, "single-hop session on "+k.Interface)
		}
	}
	if mh := running.GetBfd().GetMultiHop(); mh != nil {
		for k := range mh.Session {
			add(k.DestAddr, "multi-hop session from "+k.SourceAddr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].word < out[j].word })
	return out
}

// pathCands lists what may follow a schema path: child nodes, key values
// that exist in data, enum and boolean values, or placeholders with the
// type's help.
func pathCands(start *yang.Entry, base []*gpb.PathElem, args []token, m pathMode, data *gen.Device) []cand {
	p, err := parsePath(start, base, args, m)
	if err != nil {
		return nil
	}
	var out []cand
	switch p.at {
	case atContainer, atEntry:
		for _, ch := range children(p.entry, m.state) {
			if p.entry.IsList() && isKey(p.entry, ch.Name) {
				continue
			}
			out = append(out, cand{word: ch.Name, help: nodeHelp(ch)})
		}
		if m.value || !m.state {
			out = append(out, cand{word: "<[Enter]>", help: "Run the command", placeholder: true})
		}
	case atList:
		keys := listKeys(p.entry)
		k := keys[p.keys]
		leaf := keyLeaf(p.entry, k)
		listElem := &gpb.PathElem{Name: p.entry.Name}
		elems := append(append([]*gpb.PathElem(nil), p.elems[:len(p.elems)-1]...), listElem)
		given := p.elems[len(p.elems)-1].Key
		seen := map[string]bool{}
		if data != nil {
			if mv := nodeOf(data, elems); mv.IsValid() {
				for _, e := range listEntries(mv) {
					kt := keyTexts(p.entry, e)
					match := true
					for i := 0; i < p.keys && i < len(kt); i++ {
						if given[keys[i]] != kt[i] {
							match = false
						}
					}
					if match && p.keys < len(kt) && !seen[kt[p.keys]] {
						seen[kt[p.keys]] = true
						out = append(out, cand{word: quoteWord(kt[p.keys]), help: "existing " + p.entry.Name})
					}
				}
			}
		}
		help := "key of " + p.entry.Name
		if leaf != nil {
			help += ": " + describeType(leaf)
			if d := firstLine(description(leaf)); d != "" {
				help += ". " + d
			}
			for _, v := range enumValues(leafType(leaf)) {
				if !seen[v] {
					out = append(out, cand{word: v, help: help})
				}
			}
		}
		out = append(out, cand{word: "<" + k + ">", help: help, placeholder: true})
	case atLeaf:
		if m.value && p.value == nil && (p.entry.Type == nil || p.entry.Type.Kind != yang.Yempty) {
			help := describeType(p.entry)
			if d := firstLine(description(p.entry)); d != "" {
				help += ". " + d
			}
			for _, v := range enumValues(leafType(p.entry)) {
				out = append(out, cand{word: v, help: help})
			}
			out = append(out, cand{word: "<" + p.entry.Name + ">", help: help, placeholder: true})
		} else {
			out = append(out, cand{word: "<[Enter]>", help: "Run the command", placeholder: true})
		}
	}
	return out
}

// nodeHelp is the help line of a schema node: its description, and for a
// leaf its type, range and units.
func nodeHelp(e *yang.Entry) string {
	d := firstLine(description(e))
	switch {
	case e.IsLeaf() || e.IsLeafList():
		t := describeType(e)
		if d == "" {
			return "(" + t + ")"
		}
		return d + " (" + t + ")"
	case e.IsList():
		if d == "" {
			return "list keyed by " + e.Key
		}
		return d
	}
	return d
}

// keyHook is the line editor's key callback: TAB completes, ? helps,
// Ctrl-C drops the line.
func (sess *session) keyHook(line string, pos int, key rune) (string, int, bool) {
	t := sess.term
	switch key {
	case keyInterrupt:
		t.Write([]byte(sess.prompt() + line + "^C\n"))
		return "", 0, true
	case '\t':
		before, after := line[:pos], line[pos:]
		c := sess.complete(before)
		var words []string
		for _, k := range c.cands {
			if !k.placeholder {
				words = append(words, k.word)
			}
		}
		switch {
		case len(words) == 1:
			nl := before[:c.start] + words[0] + " "
			return nl + after, len(nl), true
		case len(words) > 1:
			cp := commonPrefix(words)
			if len(cp) > len(c.cur.text) && !c.cur.quoted {
				nl := before[:c.start] + cp
				return nl + after, len(nl), true
			}
			t.Write([]byte(sess.prompt() + line + "\n" + columns(words, sess.width)))
			return line, pos, true
		}
		return line, pos, true
	case '?':
		before := line[:pos]
		if strings.Count(before, `"`)%2 == 1 {
			return "", 0, false
		}
		c := sess.complete(before)
		var b strings.Builder
		b.WriteString(sess.prompt() + line + "?\n")
		if len(c.cands) == 0 {
			b.WriteString("  (nothing can follow here)\n")
		} else {
			b.WriteString("Possible completions:\n")
			w := 0
			for _, k := range c.cands {
				w = max(w, len(k.word))
			}
			w = min(w, 28)
			for _, k := range c.cands {
				fmt.Fprintf(&b, "  %-*s  %s\n", w, k.word, k.help)
			}
		}
		t.Write([]byte(b.String()))
		return line, pos, true
	}
	return "", 0, false
}

func commonPrefix(ws []string) string {
	p := ws[0]
	for _, w := range ws[1:] {
		for !strings.HasPrefix(w, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}

// columns lays words out in columns for a terminal of width w.
func columns(words []string, w int) string {
	cw := 0
	for _, s := range words {
		cw = max(cw, len(s)+2)
	}
	per := max(1, w/cw)
	var b strings.Builder
	for i, s := range words {
		b.WriteString(s)
		if (i+1)%per == 0 || i == len(words)-1 {
			b.WriteString("\n")
		} else {
			b.WriteString(strings.Repeat(" ", cw-len(s)))
		}
	}
	return b.String()
}
