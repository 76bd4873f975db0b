package cli

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
	sch "github.com/wirebeat/wirebeat/schema"
)

// verb is a command word of a mode with its help.
type verb struct {
	name, help string
}

var opVerbs = []verb{
	{"configure", "Enter configuration mode (a private candidate of running)"},
	{"exit", "Leave the CLI"},
	{"help", "List the commands"},
	{"monitor", "Stream the changes of a subtree until Ctrl-C"},
	{"quit", "Leave the CLI"},
	{"show", "Show configuration, state or an operator view"},
}

var cfgVerbs = []verb{
	{"commit", "Commit the candidate: check, comment \"TEXT\", confirmed MINUTES"},
	{"delete", "Delete a statement or subtree"},
	{"discard", "Drop the uncommitted changes"},
	{"edit", "Move to a level of the hierarchy"},
	{"exit", "Go up a level, or leave configuration mode (exit discard drops changes)"},
	{"help", "List the commands"},
	{"quit", "Leave configuration mode"},
	{"rollback", "Load a committed configuration into the candidate (0 is running)"},
	{"run", "Run an operational-mode command"},
	{"set", "Set a value or create a node"},
	{"show", "Show the candidate at this level (| compare: the diff against running)"},
	{"top", "Go to the top of the hierarchy"},
	{"up", "Go up a level"},
}

func verbNames(vs []verb) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.name
	}
	return out
}

// resolveWord matches a typed word against a set of words, with the error
// a shell gives.
func resolveWord(t token, words []string, what string) (string, *cmdError) {
	w, cands := matchWord(t.text, words)
	if w != "" {
		return w, nil
	}
	if len(cands) > 1 {
		return "", errAt(t, "%q is ambiguous: %s", t.text, strings.Join(cands, ", "))
	}
	msg := fmt.Sprintf("unknown %s %q", what, t.text)
	if c := closest(t.text, words); c != "" {
		msg += fmt.Sprintf("; did you mean %q?", c)
	}
	return "", errAt(t, "%s", msg)
}

// command runs one line in the session's mode.
func (sess *session) command(line string, out *outSink) (quit bool, err error) {
	toks, lerr := tokenize(line, false)
	if lerr != nil {
		le := lerr.(*lexError)
		return false, &cmdError{pos: le.pos, msg: le.msg}
	}
	cmd, stages := splitPipes(toks)
	if len(cmd) == 0 {
		return false, &cmdError{pos: 0, msg: "missing command before |"}
	}
	pipes, perr := parsePipes(stages, sess.cfg != nil)
	if perr != nil {
		return false, perr
	}
	out.pager = sess.req.pty && !pipes.noMore
	sink := &filterSink{next: out, filters: pipes.filters, count: pipes.count}
	if sess.cfg != nil {
		quit, err = sess.cfg.command(cmd, pipes, sink, line)
	} else {
		quit, err = sess.opCommand(cmd, pipes, sink)
	}
	if err == nil {
		err = sink.finish()
	}
	return quit, err
}

func (sess *session) opCommand(cmd []token, p *pipeline, sink *filterSink) (bool, error) {
	v, err := resolveWord(cmd[0], verbNames(opVerbs), "command")
	if err != nil {
		return false, err
	}
	args := cmd[1:]
	switch v {
	case "exit", "quit":
		return true, noArgs(args)
	case "help":
		return false, helpList(sink, opVerbs)
	case "configure":
		if len(args) > 0 && args[0].text != "private" {
			return false, errAt(args[0], "unexpected word %q (configure takes no argument)", args[0].text)
		}
		if !sess.srv.core.MayWrite(sess.core) {
			return false, &cmdError{pos: cmd[0].pos, msg: fmt.Sprintf("no access rule lets %s (role %s) write any configuration: configuration mode refused", sess.core.User, sess.core.Role)}
		}
		sess.cfg = newConfigMode(sess)
		return false, sink.line("Entering configuration mode")
	case "show":
		return false, sess.opShow(cmd[0], args, p, sink)
	case "monitor":
		return false, sess.monitor(cmd[0], args, sink)
	}
	return false, nil
}

func noArgs(args []token) error {
	if len(args) > 0 {
		return errAt(args[0], "unexpected word %q", args[0].text)
	}
	return nil
}

func helpList(sink lineSink, vs []verb) error {
	for _, v := range vs {
		if err := sink.line(fmt.Sprintf("  %-12s %s", v.name, v.help)); err != nil {
			return err
		}
	}
	return nil
}

// opView is an operator view of show: fixed words, then its own
// arguments.
type opView struct {
	words []string
	help  string
	run   func(sess *session, args []token, p *pipeline, sink lineSink) error
}

var opViews = []opView{
	{[]string{"configuration"}, "The running configuration", (*session).showConfiguration},
	{[]string{"bfd", "sessions"}, "BFD sessions, one line each", (*session).showBFDSessions},
	{[]string{"bfd", "session"}, "BFD sessions by address: show bfd session [ADDRESS] [detail]", (*session).showBFDSession},
	{[]string{"softwire", "lwaftr", "binding-table"}, "lwAFTR bindings: [ipv4 ADDRESS]", (*session).showBindingTable},
	{[]string{"system", "commit"}, "Commit history: id, user, transport, time, comment", (*session).showCommits},
	{[]string{"system", "users"}, "Open management sessions", (*session).showUsers},
}

// matchView finds the operator view args start with: each word may be a
// unique prefix among the view words and schema nodes of its level.
func matchView(args []token) (*opView, []token, *cmdError) {
	cands := opViews
	entry := rootSchema()
	for i, t := range args {
		var words []string
		seen := map[string]bool{}
		for _, v := range cands {
			if len(v.words) > i && !seen[v.words[i]] {
				words = append(words, v.words[i])
				seen[v.words[i]] = true
			}
		}
		if len(words) == 0 {
			return nil, nil, nil
		}
		var schemaWords []string
		if entry != nil && !entry.IsList() {
			schemaWords = names(children(entry, true))
		}
		all := append(append([]string(nil), words...), schemaWords...)
		w, amb := matchWord(t.text, dedupe(all))
		if w == "" {
			if len(amb) > 1 {
				return nil, nil, errAt(t, "%q is ambiguous: %s", t.text, strings.Join(amb, ", "))
			}
			return nil, nil, nil
		}
		var next []opView
		for _, v := range cands {
			if len(v.words) > i && v.words[i] == w {
				next = append(next, v)
			}
		}
		cands = next
		for _, v := range cands {
			if len(v.words) == i+1 {
				v := v
				return &v, args[i+1:], nil
			}
		}
		var ne *yang.Entry
		if entry != nil {
			for _, c := range children(entry, true) {
				if c.Name == w {
					ne = c
				}
			}
		}
		entry = ne
	}
	return nil, nil, nil
}

func dedupe(ws []string) []string {
	seen := map[string]bool{}
	out := ws[:0:0]
	for _, w := range ws {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// opShow is show in operational mode: a view, or any schema path with its
// state.
func (sess *session) opShow(verbTok token, args []token, p *pipeline, sink lineSink) error {
	// NACM decides show as NETCONF's <get>; what it shows is Readable.
	if err := sess.srv.core.Exec(sess.core, "ietf-netconf", "get"); err != nil {
		return err
	}
	if len(args) == 0 {
		return &cmdError{pos: verbTok.pos + len(verbTok.text) + 1, msg: "missing argument: show configuration, an operator view or a path (? lists them)"}
	}
	v, rest, err := matchView(args)
	if err != nil {
		return err
	}
	if v != nil {
		return v.run(sess, rest, p, sink)
	}
	path, perr := parsePath(rootSchema(), nil, args, pathMode{state: true})
	if perr != nil {
		return perr
	}
	if m := path.missing(pathMode{state: true}); m != "" && !(path.at == atList && path.keys == 0) {
		return &cmdError{pos: endPos(args), msg: m}
	}
	tree, verr := sess.srv.core.View([]*gpb.Path{path.gpath()})
	if verr != nil {
		return verr
	}
	return showData(sink, sess.srv.core.Readable(sess.core, tree), path, p, view{state: true, tables: true})
}

func endPos(args []token) int {
	t := args[len(args)-1]
	return t.pos + len(t.text) + 1
}

// showConfiguration is show configuration [PATH] of running.
func (sess *session) showConfiguration(args []token, p *pipeline, sink lineSink) error {
	path, perr := parsePath(rootSchema(), nil, args, pathMode{})
	if perr != nil {
		return perr
	}
	if path.at == atList && path.keys > 0 {
		return &cmdError{pos: endPos(args), msg: path.missing(pathMode{})}
	}
	return showData(sink, sess.srv.core.Readable(sess.core, sess.srv.core.Running()), path, p, view{})
}

// showData renders the node at path of tree in the pipeline's format.
func showData(sink lineSink, tree *gen.Device, path *cliPath, p *pipeline, vw view) error {
	switch p.format {
	case formatJSON, formatXML, formatSet:
		pruned, ok := prune(tree, path.elems)
		if !ok {
			return nil
		}
		switch p.format {
		case formatJSON:
			data, err := sch.EncodeJSON(pruned)
			if err != nil {
				return err
			}
			ts := &textSink{next: sink}
			if _, err := ts.Write(data); err != nil {
				return err
			}
			return ts.flush()
		case formatXML:
			return xmlTree(sink, pruned, vw)
		default:
			return setLines(sink, "", rootSchema(), reflect.ValueOf(pruned), vw)
		}
	}
	node := nodeOf(tree, path.elems)
	if !node.IsValid() {
		return nil
	}
	switch path.at {
	case atLeaf:
		f := sch.Field{Name: path.entry.Name, Schema: path.entry, Kind: sch.FieldLeaf}
		if path.entry.IsLeafList() {
			f.Kind = sch.FieldLeafList
		}
		if !sch.LeafIsSet(node) {
			return nil
		}
		return sink.line(leafText(f, node) + ";")
	case atList:
		entries := listEntries(node)
		if vw.tables && flatList(path.entry, entries, vw) {
			return table(sink, "", path.entry, entries, vw)
		}
		for _, e := range entries {
			head := path.entry.Name
			for _, k := range keyTexts(path.entry, e) {
				head += " " + quoteWord(k)
			}
			if err := sink.line(head + " {"); err != nil {
				return err
			}
			if err := brace(sink, path.entry, e, 1, vw); err != nil {
				return err
			}
			if err := sink.line("}"); err != nil {
				return err
			}
		}
		return nil
	}
	return brace(sink, path.entry, node, 0, vw)
}

// leafAt reads the text of the leaf at a slash-separated relative path
// below a struct pointer, "" when absent.
func leafAt(schema *yang.Entry, ptr reflect.Value, rel string) string {
	parts := strings.Split(rel, "/")
	for i, name := range parts {
		if !ptr.IsValid() || ptr.Kind() != reflect.Ptr || ptr.IsNil() {
			return ""
		}
		var f *sch.Field
		for _, x := range sch.Fields(schema, ptr.Elem().Type()) {
			if x.Name == name {
				x := x
				f = &x
			}
		}
		if f == nil {
			return ""
		}
		fv := ptr.Elem().Field(f.Index)
		if i == len(parts)-1 {
			if !sch.LeafIsSet(fv) {
				return ""
			}
			return strings.Join(sch.LeafTexts(fv), ",")
		}
		ptr, schema = fv, f.Schema
	}
	return ""
}

// bfdSessionLists are the lists of /bfd whose entries are sessions, with
// how the view names their peer and interface.
var bfdSessionLists = []struct {
	path              []string
	peer, iface, kind string
}{
	{[]string{"bfd", "single-hop", "session"}, "dest-addr", "interface", "single-hop"},
	{[]string{"bfd", "multi-hop", "session"}, "dest-addr", "source-addr", "multi-hop"},
	{[]string{"bfd", "softwire", "session"}, "b4-address", "", "softwire"},
	{[]string{"bfd", "sbfd", "initiator"}, "remote-address", "name", "sbfd"},
}

type bfdRow struct {
	kind   string
	schema *yang.Entry
	entry  reflect.Value
	elems  []*gpb.PathElem
	peer   string
	iface  string
}

func (sess *session) bfdRows() ([]bfdRow, *gen.Device, error) {
	tree, err := sess.srv.core.View([]*gpb.Path{{Elem: []*gpb.PathElem{{Name: "bfd"}}}})
	if err != nil {
		return nil, nil, err
	}
	var rows []bfdRow
	for _, l := range bfdSessionLists {
		var elems []*gpb.PathElem
		for _, n := range l.path {
			elems = append(elems, &gpb.PathElem{Name: n})
		}
		schema := entryAt(rootSchema(), elems)
		if schema == nil {
			continue
		}
		m := nodeOf(tree, elems)
		if !m.IsValid() {
			continue
		}
		for _, e := range listEntries(m) {
			rows = append(rows, bfdRow{kind: l.kind, schema: schema, entry: e, elems: elems,
				peer: leafAt(schema, e, l.peer), iface: leafAt(schema, e, l.iface)})
		}
	}
	return rows, tree, nil
}

// showBFDSessions is show bfd sessions: one line per session.
func (sess *session) showBFDSessions(args []token, p *pipeline, sink lineSink) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if p.format != formatText {
		return sess.bfdData(p, sink)
	}
	rows, _, err := sess.bfdRows()
	if err != nil {
		return err
	}
	return bfdTable(sink, rows)
}

func (sess *session) bfdData(p *pipeline, sink lineSink) error {
	tree, err := sess.srv.core.View([]*gpb.Path{{Elem: []*gpb.PathElem{{Name: "bfd"}}}})
	if err != nil {
		return err
	}
	path := &cliPath{elems: []*gpb.PathElem{{Name: "bfd"}}, entry: entryAt(rootSchema(), []*gpb.PathElem{{Name: "bfd"}}), at: atContainer}
	return showData(sink, tree, path, p, view{state: true})
}

func bfdTable(sink lineSink, rows []bfdRow) error {
	cells := [][]string{{"Address", "Interface", "Type", "State", "Remote", "Diagnostic", "Tx(us)", "Rx(us)", "Mult", "Up since"}}
	up := 0
	for _, r := range rows {
		st := leafAt(r.schema, r.entry, "state/local-state")
		if st == "up" {
			up++
		}
		cells = append(cells, []string{r.peer, r.iface, r.kind, st,
			leafAt(r.schema, r.entry, "state/remote-state"),
			leafAt(r.schema, r.entry, "state/local-diagnostic"),
			leafAt(r.schema, r.entry, "state/negotiated-tx-interval"),
			leafAt(r.schema, r.entry, "state/negotiated-rx-interval"),
			leafAt(r.schema, r.entry, "state/remote-multiplier"),
			leafAt(r.schema, r.entry, "state/last-up-time")})
	}
	if err := alignedRows(sink, cells); err != nil {
		return err
	}
	return sink.line(fmt.Sprintf("%d sessions, %d up", len(rows), up))
}

// alignedRows writes rows of cells as aligned columns.
func alignedRows(sink lineSink, cells [][]string) error {
	if len(cells) == 0 {
		return nil
	}
	widths := make([]int, len(cells[0]))
	for _, r := range cells {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], len(c))
			}
		}
	}
	for _, r := range cells {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len(c)+2))
			}
		}
		if err := sink.line(strings.TrimRight(b.String(), " ")); err != nil {
			return err
		}
	}
	return nil
}

// showBFDSession is show bfd session [ADDRESS] [detail].
func (sess *session) showBFDSession(args []token, p *pipeline, sink lineSink) error {
	var addr string
	detail := false
	for _, a := range args {
		if w, _ := matchWord(a.text, []string{"detail"}); w == "detail" && !detail {
			detail = true
			continue
		}
		if addr != "" {
			return errAt(a, "unexpected word %q (show bfd session [ADDRESS] [detail])", a.text)
		}
		if err := checkAddress("ip-address", a.text); err != nil {
			return errAt(a, "%v", err)
		}
		addr = a.text
	}
	if p.format != formatText {
		return sess.bfdData(p, sink)
	}
	rows, _, err := sess.bfdRows()
	if err != nil {
		return err
	}
	var sel []bfdRow
	for _, r := range rows {
		if addr == "" || sameAddr(r.peer, addr) {
			sel = append(sel, r)
		}
	}
	if !detail {
		return bfdTable(sink, sel)
	}
	for _, r := range sel {
		if err := sink.line(fmt.Sprintf("Session %s %s %s", r.kind, r.peer, r.iface)); err != nil {
			return err
		}
		if err := detailLines(sink, r.schema, r.entry, "  "); err != nil {
			return err
		}
	}
	return sink.line(fmt.Sprintf("%d sessions", len(sel)))
}

func sameAddr(a, b string) bool {
	if a == b {
		return true
	}
	return canonical(a) == canonical(b)
}

// detailLines writes every set leaf below a struct as "name: value",
// containers as indented headings.
func detailLines(sink lineSink, schema *yang.Entry, ptr reflect.Value, ind string) error {
	if !ptr.IsValid() || ptr.IsNil() {
		return nil
	}
	sv := ptr.Elem()
	for _, f := range sch.Fields(schema, sv.Type()) {
		fv := sv.Field(f.Index)
		switch f.Kind {
		case sch.FieldLeaf, sch.FieldLeafList:
			if sch.LeafIsSet(fv) {
				if err := sink.line(ind + f.Name + ": " + strings.Join(sch.LeafTexts(fv), ", ")); err != nil {
					return err
				}
			}
		case sch.FieldContainer:
			if !hasContent(f.Schema, fv, view{state: true}) {
				continue
			}
			if err := sink.line(ind + f.Name + ":"); err != nil {
				return err
			}
			if err := detailLines(sink, f.Schema, fv, ind+"  "); err != nil {
				return err
			}
		}
	}
	return nil
}

// showBindingTable is show softwire lwaftr binding-table [ipv4 ADDRESS]:
// the entries as a table, streamed.
func (sess *session) showBindingTable(args []token, p *pipeline, sink lineSink) error {
	elems := []*gpb.PathElem{{Name: "softwire"}, {Name: "lwaftr"}, {Name: "binding-table"}}
	var ipv4 string
	if len(args) > 0 {
		if w, _ := matchWord(args[0].text, []string{"ipv4"}); w != "ipv4" {
			// Any other word continues the schema path.
			all := append([]token{{text: "softwire"}, {text: "lwaftr"}, {text: "binding-table"}}, args...)
			path, perr := parsePath(rootSchema(), nil, all, pathMode{state: true})
			if perr != nil {
				return perr
			}
			tree, err := sess.srv.core.View([]*gpb.Path{path.gpath()})
			if err != nil {
				return err
			}
			return showData(sink, sess.srv.core.Readable(sess.core, tree), path, p, view{state: true, tables: true})
		}
		if len(args) != 2 {
			return errAt(args[0], "ipv4 takes one address")
		}
		if err := checkAddress("ipv4-address", args[1].text); err != nil {
			return errAt(args[1], "%v", err)
		}
		ipv4 = args[1].text
	}
	tree, err := sess.srv.core.View([]*gpb.Path{{Elem: elems}})
	if err != nil {
		return err
	}
	bt := entryAt(rootSchema(), elems)
	path := &cliPath{elems: elems, entry: bt, at: atContainer}
	if ipv4 == "" || p.format != formatText {
		return showData(sink, tree, path, p, view{state: true, tables: true})
	}
	list := entryAt(rootSchema(), append(elems, &gpb.PathElem{Name: "softwire"}))
	m := nodeOf(tree, append(elems, &gpb.PathElem{Name: "softwire"}))
	if !m.IsValid() {
		return nil
	}
	var sel []reflect.Value
	for it := m.MapRange(); it.Next(); {
		if leafAt(list, it.Value(), "ipv4") == ipv4 {
			sel = append(sel, it.Value())
		}
	}
	if len(sel) == 0 {
		return sink.line("no binding for " + ipv4)
	}
	sortEntries(list, sel)
	return table(sink, "", list, sel, view{state: true})
}

func sortEntries(list *yang.Entry, es []reflect.Value) {
	key := func(v reflect.Value) string {
		return strings.Join(keyTexts(list, v), "\x00")
	}
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && key(es[j]) < key(es[j-1]); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// showCommits is show system commit: the rollback history.
func (sess *session) showCommits(args []token, p *pipeline, sink lineSink) error {
	if err := noArgs(args); err != nil {
		return err
	}
	hist, err := sess.srv.core.History()
	if err != nil {
		return err
	}
	if p.format == formatJSON {
		return jsonLines(sink, hist)
	}
	// The rollback number first (what rollback N takes), then the
	// columns of the issue: id, user, transport, time, comment.
	cells := [][]string{{"#", "ID", "User", "Transport", "Time", "Comment"}}
	for i, h := range hist {
		cells = append(cells, []string{fmt.Sprint(i), fmt.Sprint(h.ID), h.User, h.Transport, h.Time.UTC().Format("2006-01-02 15:04:05 UTC"), h.Comment})
	}
	if pc, pending := sess.srv.core.PendingConfirmed(); pending {
		how := "any commit confirms it"
		switch {
		case pc.Persist:
			how = "confirmed with its persist-id over NETCONF"
		case !pc.Open:
			how = fmt.Sprintf("only session %d may confirm it", pc.Session)
		}
		if err := sink.line(fmt.Sprintf("commit confirmed by %s via %s (session %d) pending: rolled back at %s unless confirmed (%s)",
			pc.User, pc.Transport, pc.Session, pc.Expires.UTC().Format("15:04:05 UTC"), how)); err != nil {
			return err
		}
	}
	return alignedRows(sink, cells)
}

// showUsers is show system users: the open management sessions.
func (sess *session) showUsers(args []token, p *pipeline, sink lineSink) error {
	if err := noArgs(args); err != nil {
		return err
	}
	ss := sess.srv.core.Sessions()
	if p.format == formatJSON {
		return jsonLines(sink, ss)
	}
	cells := [][]string{{"Session", "User", "Role", "Via", "From", "Since"}}
	for _, s := range ss {
		me := ""
		if s.ID == sess.core.ID {
			me = " (this)"
		}
		cells = append(cells, []string{fmt.Sprint(s.ID) + me, s.User, s.Role.String(), s.Transport, s.Source, s.Start.UTC().Format("2006-01-02 15:04:05 UTC")})
	}
	return alignedRows(sink, cells)
}

func jsonLines(sink lineSink, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	ts := &textSink{next: sink}
	if _, err := ts.Write(append(data, '\n')); err != nil {
		return err
	}
	return ts.flush()
}
