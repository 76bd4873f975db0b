package cli

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
	sch "github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// configMode is a session in configuration mode: a private candidate made
// from running at entry, and the edits that made it. A commit replays the
// edits on running as it is then, through the core's one pipeline, so that
// another session's commit to other paths is kept, not reverted; a commit
// that touched the same paths is a conflict and is refused.
type configMode struct {
	sess  *session
	base  *gen.Device // running when the candidate was made
	cand  *gen.Device
	ops   []editOp
	level []level
}

// level is one step of the [edit ...] hierarchy.
type level struct {
	elems []*gpb.PathElem // from the root
	entry *yang.Entry
	words []string
}

type opKind uint8

const (
	opSet opKind = iota + 1
	opDelete
	opLoad
)

// editOp is one change of the candidate, kept to be replayed at commit.
type editOp struct {
	kind  opKind
	elems []*gpb.PathElem
	entry *yang.Entry
	at    nodeAt
	value string
	has   bool        // value given
	tree  *gen.Device // opLoad
	what  string      // opLoad: where the tree came from
}

func newConfigMode(sess *session) *configMode {
	r := sess.srv.core.Running()
	return &configMode{sess: sess, base: r, cand: r}
}

func (c *configMode) close() {}

func (c *configMode) banner() string {
	if len(c.level) == 0 {
		return "[edit]"
	}
	return "[edit " + strings.Join(c.level[len(c.level)-1].words, " ") + "]"
}

func (c *configMode) here() (*yang.Entry, []*gpb.PathElem, []string) {
	if len(c.level) == 0 {
		return rootSchema(), nil, nil
	}
	l := c.level[len(c.level)-1]
	return l.entry, l.elems, l.words
}

func (c *configMode) command(cmd []token, p *pipeline, sink *filterSink, line string) (bool, error) {
	v, err := resolveWord(cmd[0], verbNames(cfgVerbs), "command")
	if err != nil {
		return false, err
	}
	args := cmd[1:]
	if v != "show" && v != "run" && (p.format != formatText || p.compare) {
		return false, &cmdError{pos: -1, msg: "| display and | compare go with show"}
	}
	switch v {
	case "help":
		return false, helpList(sink, cfgVerbs)
	case "set":
		return false, c.set(cmd[0], args, sink)
	case "delete":
		return false, c.delete(cmd[0], args, sink)
	case "edit":
		return false, c.edit(cmd[0], args)
	case "up":
		n := 1
		if len(args) > 0 {
			k, err := strconv.Atoi(args[0].text)
			if err != nil || k < 1 {
				return false, errAt(args[0], "up takes a number of levels")
			}
			n = k
		}
		if len(c.level) == 0 {
			return false, sink.line("warning: already at the top of the hierarchy")
		}
		// Up n nodes of the schema (a list entry is one), as in Junos:
		// from [edit bfd profiles profile x] to [edit bfd profiles].
		cur := c.level[len(c.level)-1]
		keep := max(0, len(cur.elems)-n)
		c.level = c.level[:len(c.level)-1]
		if keep > 0 {
			elems := cur.elems[:keep:keep]
			c.level = append(c.level, level{elems: elems, entry: entryAt(rootSchema(), elems), words: cliWords(rootSchema(), elems)})
		} else {
			c.level = nil
		}
		return false, nil
	case "top":
		c.level = nil
		return false, noArgs(args)
	case "show":
		return false, c.show(args, p, sink)
	case "commit":
		return false, c.commit(cmd[0], args, sink)
	case "rollback":
		return false, c.rollback(cmd[0], args, sink)
	case "discard":
		if err := noArgs(args); err != nil {
			return false, err
		}
		c.reset()
		return false, sink.line("candidate discarded")
	case "run":
		if len(args) == 0 {
			return false, &cmdError{pos: endPos(cmd), msg: "run takes an operational-mode command"}
		}
		return false, c.sess.opRun(args, p, sink)
	case "exit", "quit":
		discard := false
		if len(args) > 0 {
			w, err := resolveWord(args[0], []string{"discard"}, "word")
			if err != nil {
				return false, err
			}
			discard = w == "discard"
		}
		if v == "exit" && len(c.level) > 0 && !discard {
			c.level = c.level[:len(c.level)-1]
			return false, nil
		}
		if len(c.ops) > 0 && !discard {
			return false, &cmdError{pos: cmd[0].pos, msg: "the candidate has uncommitted changes: commit them, or leave with \"exit discard\""}
		}
		c.sess.cfg = nil
		return false, sink.line("Exiting configuration mode")
	}
	return false, nil
}

// opRun runs an operational command from configuration mode.
func (sess *session) opRun(args []token, p *pipeline, sink *filterSink) error {
	cfg := sess.cfg
	sess.cfg = nil
	defer func() {
		if sess.cfg == nil {
			sess.cfg = cfg
		}
	}()
	if w, _ := matchWord(args[0].text, []string{"configure", "exit", "quit"}); w != "" {
		return errAt(args[0], "%s cannot be run from configuration mode", w)
	}
	_, err := sess.opCommand(args, p, sink)
	return err
}

func (c *configMode) reset() {
	r := c.sess.srv.core.Running()
	c.base, c.cand, c.ops = r, r, nil
}

// set is set PATH [VALUE].
func (c *configMode) set(verbTok token, args []token, sink lineSink) error {
	if len(args) == 0 {
		return &cmdError{pos: verbTok.pos + len(verbTok.text) + 1, msg: "missing path: set what? (? lists the choices)"}
	}
	start, base, _ := c.here()
	m := pathMode{value: true}
	p, err := parsePath(start, base, args, m)
	if err != nil {
		return err
	}
	if miss := p.missing(m); miss != "" {
		return &cmdError{pos: endPos(args), msg: miss}
	}
	if p.at == atLeaf && p.entry.Parent != nil && p.entry.Parent.IsList() && isKey(p.entry.Parent, p.entry.Name) {
		return errAt(args[len(args)-1], "%s is a key of %s: it is given in the entry's path, not set", p.entry.Name, p.entry.Parent.Name)
	}
	op := editOp{kind: opSet, elems: p.elems, entry: p.entry, at: p.at}
	if p.value != nil {
		op.value, op.has = p.value.text, true
	}
	return c.apply(op)
}

// delete is delete PATH [VALUE].
func (c *configMode) delete(verbTok token, args []token, sink lineSink) error {
	start, base, _ := c.here()
	m := pathMode{value: true}
	p, err := parsePath(start, base, args, m)
	if err != nil {
		return err
	}
	if p.at == atList && p.keys > 0 {
		return &cmdError{pos: endPos(args), msg: p.missing(m)}
	}
	if p.value != nil && !p.entry.IsLeafList() {
		return errAt(*p.value, "unexpected word %q: delete a leaf by its name only", p.value.text)
	}
	op := editOp{kind: opDelete, elems: p.elems, entry: p.entry, at: p.at}
	if p.value != nil {
		op.value, op.has = p.value.text, true
	}
	if len(args) == 0 && len(base) == 0 {
		op.elems = nil
	}
	return c.apply(op)
}

// apply makes op a change of the candidate, or changes nothing.
func (c *configMode) apply(op editOp) error {
	tx := sch.NewTx(c.cand)
	found, err := applyOp(tx, op)
	if err != nil {
		return err
	}
	if op.kind == opDelete && !found {
		return &cmdError{pos: -1, msg: "warning: statement not found; nothing deleted"}
	}
	c.cand = tx.Root()
	c.ops = append(c.ops, op)
	return nil
}

// applyOp applies one edit to a transaction; for a delete it reports
// whether there was something to delete.
func applyOp(tx *sch.Tx, op editOp) (bool, error) {
	path := &gpb.Path{Elem: op.elems}
	switch op.kind {
	case opLoad:
		c, err := sch.Clone(op.tree)
		if err != nil {
			return false, err
		}
		return true, tx.Set(&gpb.Path{}, c)
	case opSet:
		if op.at != atLeaf {
			_, _, err := tx.Touch(path, true)
			return true, err
		}
		parent, schema, err := tx.Touch(&gpb.Path{Elem: op.elems[:len(op.elems)-1]}, true)
		if err != nil {
			return false, err
		}
		name := op.elems[len(op.elems)-1].Name
		leaf, field, ok := sch.LeafField(schema, reflect.ValueOf(parent), name)
		if !ok {
			return false, sch.Errorf(sch.TagUnknownElement, path, "no leaf %s here", name)
		}
		text := op.value
		if leaf.Type != nil && leaf.Type.Kind == yang.Yempty {
			text = "true"
		}
		if err := sch.SetLeafText(leaf, field, text); err != nil {
			return false, sch.Errorf(sch.TagInvalidValue, path, "%v", err)
		}
		return true, nil
	default: // delete
		if op.at == atLeaf && op.has {
			parent, schema, err := tx.Touch(&gpb.Path{Elem: op.elems[:len(op.elems)-1]}, false)
			if err != nil || parent == nil {
				return false, err
			}
			leaf, field, ok := sch.LeafField(schema, reflect.ValueOf(parent), op.elems[len(op.elems)-1].Name)
			if !ok {
				return false, nil
			}
			return sch.RemoveLeafListText(leaf, field, op.value)
		}
		if len(op.elems) == 0 {
			return true, tx.Set(&gpb.Path{}, &gen.Device{})
		}
		return tx.Delete(path)
	}
}

// edit is edit PATH: a container or list entry becomes the level.
func (c *configMode) edit(verbTok token, args []token) error {
	if len(args) == 0 {
		return &cmdError{pos: verbTok.pos + len(verbTok.text) + 1, msg: "missing path: edit what?"}
	}
	start, base, words := c.here()
	p, err := parsePath(start, base, args, pathMode{})
	if err != nil {
		return err
	}
	switch p.at {
	case atList:
		return &cmdError{pos: endPos(args), msg: p.missing(pathMode{})}
	case atLeaf:
		return errAt(args[len(args)-1], "%s is a leaf: edit goes to containers and list entries; set it instead", p.entry.Name)
	}
	c.level = append(c.level, level{elems: p.elems, entry: p.entry, words: append(append([]string(nil), words...), p.words...)})
	return nil
}

// show is show [PATH] [| compare | display ...] of the candidate at the
// current level.
func (c *configMode) show(args []token, p *pipeline, sink lineSink) error {
	if err := c.sess.srv.core.Exec(c.sess.core, "ietf-netconf", "get-config"); err != nil {
		return err
	}
	start, base, _ := c.here()
	path, err := parsePath(start, base, args, pathMode{})
	if err != nil {
		return err
	}
	if path.at == atList && path.keys > 0 {
		return &cmdError{pos: endPos(args), msg: path.missing(pathMode{})}
	}
	if p.compare {
		return c.compare(path, sink)
	}
	return showData(sink, c.cand, path, p, view{})
}

// commit is commit [check] [comment TEXT] [confirmed [MINUTES]].
func (c *configMode) commit(verbTok token, args []token, sink lineSink) error {
	// NACM decides the operation here, each change on its path in the core.
	if err := c.sess.srv.core.Exec(c.sess.core, "ietf-netconf", "commit"); err != nil {
		return err
	}
	var check, confirmed bool
	minutes := 10
	comment := ""
	for i := 0; i < len(args); i++ {
		w, err := resolveWord(args[i], []string{"check", "comment", "confirmed", "and-quit"}, "commit option")
		if err != nil {
			return err
		}
		switch w {
		case "check":
			check = true
		case "comment":
			if i+1 >= len(args) {
				return errAt(args[i], "comment takes a text (in quotes if it has blanks)")
			}
			i++
			comment = args[i].text
		case "confirmed":
			confirmed = true
			if i+1 < len(args) {
				if n, err := strconv.Atoi(args[i+1].text); err == nil {
					if n < 1 || n > 65535 {
						return errAt(args[i+1], "value %d is outside the range 1..65535 of confirmed minutes", n)
					}
					minutes = n
					i++
				} else if isDigits(args[i+1].text) {
					return errAt(args[i+1], "value %s is outside the range 1..65535 of confirmed minutes", args[i+1].text)
				}
			}
		case "and-quit":
		}
	}
	core := c.sess.srv.core
	if err := c.lockedByOther(verbTok); err != nil {
		return err
	}
	if err := c.conflicts(verbTok); err != nil {
		return err
	}
	ops := c.ops
	replay := func(tx *sch.Tx) error {
		for _, op := range ops {
			if _, err := applyOp(tx, op); err != nil {
				return err
			}
		}
		return nil
	}
	if check {
		if err := core.CheckTx(c.sess.core, server.Running, replay); err != nil {
			return err
		}
		return sink.line("configuration check succeeds")
	}
	srv := c.sess.srv
	// The element's one confirmed commit: a CLI one may be confirmed by
	// any session's commit (Junos); one made over NETCONF refuses this
	// commit unless it is this session's to confirm.
	conf := server.Confirm{Confirmed: confirmed, Timeout: time.Duration(minutes) * srv.opts.ConfirmUnit, Open: true}
	id, ended, err := core.ConfirmedCommit(c.sess.core, conf, func() (uint64, error) {
		return core.CommitTx(c.sess.core, comment, replay)
	})
	if err != nil {
		return err
	}
	if ended {
		sink.line("commit confirmed: it will not be rolled back")
	}
	c.reset()
	if id == 0 {
		return sink.line("commit complete (no changes)")
	}
	if confirmed {
		return sink.line(fmt.Sprintf("commit complete (id %d); rolled back in %d minutes unless confirmed by commit", id, minutes))
	}
	return sink.line(fmt.Sprintf("commit complete (id %d)", id))
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// lockedByOther refuses a commit while another session holds a lock of
// running or of the shared candidate (NETCONF's lock).
func (c *configMode) lockedByOther(t token) error {
	core := c.sess.srv.core
	for _, ds := range []server.Datastore{server.Running, server.Candidate} {
		li, ok := core.Locks()[ds]
		if !ok || li.Session == c.sess.core.ID {
			continue
		}
		who := fmt.Sprintf("session %d", li.Session)
		for _, s := range core.Sessions() {
			if s.ID == li.Session {
				who = fmt.Sprintf("session %d (user %s via %s)", s.ID, s.User, s.Transport)
			}
		}
		return &cmdError{pos: t.pos, msg: fmt.Sprintf("configuration locked: %s holds the lock of %s since %s", who, ds, li.Since.UTC().Format("15:04:05 UTC"))}
	}
	return nil
}

// conflicts refuses a commit when running changed since the candidate was
// made at a path the candidate's edits touched, naming the paths.
func (c *configMode) conflicts(t token) error {
	running := c.sess.srv.core.Running()
	if running == c.base {
		return nil
	}
	var clash []string
	seen := map[string]bool{}
	for _, op := range c.ops {
		var name string
		switch {
		case op.kind == opLoad:
			name = "[edit] (the whole configuration, " + op.what + ")"
		case !sameNode(c.base, running, op.elems):
			name = "[edit " + strings.Join(cliWords(rootSchema(), op.elems), " ") + "]"
		default:
			continue
		}
		if !seen[name] {
			seen[name] = true
			clash = append(clash, name)
		}
	}
	if len(clash) == 0 {
		return nil
	}
	return &cmdError{pos: t.pos, msg: "running changed since configure at paths this candidate changes: " + strings.Join(clash, ", ") +
		"; nothing committed (discard, or rollback 0, to start again from running)"}
}

// sameNode reports whether the node at elems (and the nodes above it,
// which its existence depends on) is the same in two configurations.
func sameNode(a, b *gen.Device, elems []*gpb.PathElem) bool {
	na, nb := nodeOf(a, elems), nodeOf(b, elems)
	if na.IsValid() != nb.IsValid() {
		return false
	}
	if !na.IsValid() {
		return true
	}
	if (na.Kind() == reflect.Ptr || na.Kind() == reflect.Map) && na.Pointer() == nb.Pointer() {
		return true
	}
	return reflect.DeepEqual(na.Interface(), nb.Interface())
}

// rollback is rollback N: history entry N (0 is running) becomes the
// candidate.
func (c *configMode) rollback(verbTok token, args []token, sink lineSink) error {
	n := 0
	if len(args) > 1 {
		return errAt(args[1], "unexpected word %q", args[1].text)
	}
	hist, err := c.sess.srv.core.History()
	if err != nil {
		return err
	}
	if len(args) == 1 {
		k, err := strconv.Atoi(args[0].text)
		if err != nil || k < 0 || k >= len(hist) {
			return errAt(args[0], "value %s is outside the range 0..%d of the rollback history", args[0].text, len(hist)-1)
		}
		n = k
	}
	if len(hist) == 0 {
		return &cmdError{pos: verbTok.pos, msg: "no rollback history"}
	}
	tree, err := c.sess.srv.core.HistoryConfig(hist[n].ID)
	if err != nil {
		return err
	}
	if n == 0 {
		c.reset()
		return sink.line("load complete (rollback 0: the candidate is running again)")
	}
	if err := c.apply(editOp{kind: opLoad, tree: tree, what: fmt.Sprintf("rollback %d", n)}); err != nil {
		return err
	}
	return sink.line(fmt.Sprintf("load complete (rollback %d: commit %d by %s)", n, hist[n].ID, hist[n].User))
}

// canonical is the RFC 5952 text of an address, for comparisons.
func canonical(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return s
}
