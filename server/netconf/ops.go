package netconf

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/antchfx/xpath"
	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// reply is the outcome of one operation: data, errors, or <ok/>.
type reply struct {
	data []byte
	errs []*rpcError
	// after runs once the reply is written: what must follow it, such
	// as the notifications of a new subscription.
	after func()
}

func fail(err error) reply { return reply{errs: []*rpcError{toRPCError(err)}} }

// capabilities lists what the server announces in its hello.
func (s *Server) capabilities() []string {
	caps := []string{
		"urn:ietf:params:netconf:base:1.0",
		"urn:ietf:params:netconf:base:1.1",
		"urn:ietf:params:netconf:capability:writable-running:1.0",
		"urn:ietf:params:netconf:capability:candidate:1.0",
		"urn:ietf:params:netconf:capability:confirmed-commit:1.1",
		"urn:ietf:params:netconf:capability:rollback-on-error:1.0",
		"urn:ietf:params:netconf:capability:validate:1.1",
		"urn:ietf:params:netconf:capability:startup:1.0",
		"urn:ietf:params:netconf:capability:xpath:1.0",
		"urn:ietf:params:netconf:capability:notification:1.0",
		"urn:ietf:params:netconf:capability:interleave:1.0",
		"urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim",
		"urn:ietf:params:netconf:capability:yang-library:1.1?revision=2019-01-04&content-id=" + s.contentID(),
	}
	if s.urlEnabled() {
		caps = append(caps, "urn:ietf:params:netconf:capability:url:1.0?scheme=file")
	}
	// Module capabilities (RFC 6020 section 5.6.4) for clients that do
	// not read the YANG library, ietf-netconf with its features included
	// (libnetconf2 takes them from there).
	for _, m := range s.si.library {
		c := m.Namespace + "?module=" + m.Name + "&revision=" + m.Revision
		if len(m.Features) > 0 {
			c += "&features=" + strings.Join(m.Features, ",")
		}
		caps = append(caps, c)
	}
	return caps
}

// contentID identifies the set of modules (RFC 8525): it changes when a
// module's revision does.
func (s *Server) contentID() string {
	var b strings.Builder
	for _, m := range s.si.library {
		b.WriteString(m.Name + "@" + m.Revision + ":" + strings.Join(m.Features, ",") + ";")
	}
	h := uint32(2166136261)
	for _, c := range []byte(b.String()) {
		h = (h ^ uint32(c)) * 16777619
	}
	return strconv.FormatUint(uint64(h), 16)
}

func (s *Server) helloMessage(id uint32) []byte {
	var b bytes.Buffer
	b.WriteString(`<hello xmlns="` + nsBase + `"><capabilities>`)
	for _, c := range s.caps {
		b.WriteString("<capability>")
		xmlEscape(&b, c)
		b.WriteString("</capability>")
	}
	b.WriteString("</capabilities><session-id>")
	b.WriteString(strconv.FormatUint(uint64(id), 10))
	b.WriteString("</session-id></hello>")
	return b.Bytes()
}

// dispatch runs one operation; done reports that the session ends.
func (sess *session) dispatch(op *xnode) (r reply, done bool) {
	// RFC 8341 section 3.4.4: the operation itself first, by its name.
	if module, ok := rpcModules[op.Name.Space]; ok {
		if err := sess.srv.core.Exec(sess.core, module, op.Name.Local); err != nil {
			return fail(err), false
		}
	}
	switch op.Name.Space {
	case nsBase:
		switch op.Name.Local {
		case "get":
			return sess.get(op, false), false
		case "get-config":
			return sess.get(op, true), false
		case "edit-config":
			return sess.editConfig(op), false
		case "copy-config":
			return sess.copyConfig(op), false
		case "delete-config":
			return sess.deleteConfig(op), false
		case "lock":
			return sess.lock(op, true), false
		case "unlock":
			return sess.lock(op, false), false
		case "close-session":
			return reply{}, true
		case "kill-session":
			return sess.killSession(op), false
		case "commit":
			return sess.commit(op), false
		case "cancel-commit":
			return sess.cancelCommit(op), false
		case "discard-changes":
			if err := sess.srv.core.Discard(sess.core); err != nil {
				return fail(err), false
			}
			return reply{}, false
		case "validate":
			return sess.validate(op), false
		}
	case nsMonitoring:
		if op.Name.Local == "get-schema" {
			return sess.getSchema(op), false
		}
	case nsSN:
		switch op.Name.Local {
		case "establish-subscription":
			return sess.establishSubscription(op), false
		case "modify-subscription":
			return sess.modifySubscription(op), false
		case "delete-subscription":
			return sess.deleteSubscription(op, false), false
		case "kill-subscription":
			return sess.deleteSubscription(op, true), false
		}
	case nsNCNMDA:
		switch op.Name.Local {
		case "get-data":
			return sess.getData(op), false
		case "edit-data":
			return sess.editData(op), false
		}
	case nsNotif:
		if op.Name.Local == "create-subscription" {
			return sess.createSubscription(op), false
		}
	}
	e := badElement(schema.TagOperationNotSupp, op.Name.Local, "operation %q in namespace %q is not supported", op.Name.Local, op.Name.Space)
	e.Type = "protocol"
	return reply{errs: []*rpcError{e}}, false
}

// rpcModules names the module defining the operations of each namespace,
// the module-name NACM rules give.
var rpcModules = map[string]string{
	nsBase:       "ietf-netconf",
	nsMonitoring: "ietf-netconf-monitoring",
	nsSN:         "ietf-subscribed-notifications",
	nsNCNMDA:     "ietf-netconf-nmda",
	nsNotif:      "notifications",
}

// datastoreOf reads <target>/<source> content: a datastore name.
func datastoreOf(parent *xnode, which string, allowConfig bool) (server.Datastore, *xnode, *rpcError) {
	x := parent.childBase(which)
	if x == nil {
		return "", nil, badElement(schema.TagMissingElement, which, "<%s> is required", which)
	}
	if len(x.Children) != 1 {
		return "", nil, badElement(schema.TagBadElement, which, "<%s> names exactly one datastore", which)
	}
	c := x.Children[0]
	if c.Name.Space != nsBase {
		return "", nil, badElement(schema.TagUnknownNamespace, c.Name.Local, "unknown datastore %s", c.Name.Local)
	}
	switch c.Name.Local {
	case "running":
		return server.Running, nil, nil
	case "candidate":
		return server.Candidate, nil, nil
	case "startup":
		return server.Startup, nil, nil
	case "config":
		if allowConfig {
			return "", c, nil
		}
	case "url":
		return "", nil, badElement(schema.TagOperationNotSupp, "url", "the :url capability is not supported")
	}
	return "", nil, badElement(schema.TagBadElement, c.Name.Local, "<%s> cannot be a %s here", c.Name.Local, which)
}

// get serves <get> (configuration and state) and <get-config>.
func (sess *session) get(op *xnode, configOnly bool) reply {
	wd := wdExplicit
	if w := op.child(nsWithDefault, "with-defaults"); w != nil {
		m, ok := parseWD(w.Text)
		if !ok {
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "with-defaults", "with-defaults %q is not report-all, report-all-tagged, trim or explicit", w.Text)}}
		}
		wd = m
	}
	filter, monFilter, rerr := sess.srv.filterOf(op)
	if rerr != nil {
		return reply{errs: []*rpcError{rerr}}
	}
	var trees []*gen.Device
	if configOnly {
		ds, _, rerr := datastoreOf(op, "source", false)
		if rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
		cfg, err := sess.srv.core.Config(ds)
		if err != nil {
			return fail(err)
		}
		trees = []*gen.Device{cfg}
	} else {
		var paths []*gpb.Path
		if filter == nil || filter.xp == nil {
			paths = filterPaths(filter)
		}
		state, err := sess.srv.core.State(paths)
		if err != nil {
			return fail(err)
		}
		trees = []*gen.Device{sess.srv.core.Running(), state}
	}
	for i, t := range trees {
		trees[i] = sess.srv.core.Readable(sess.core, t)
	}
	if filter != nil && filter.xp != nil {
		return sess.srv.xpathData(trees, filter.xp, wd, configOnly)
	}
	var b bytes.Buffer
	b.WriteString("<data>")
	if filter == nil || len(filter.children) > 0 {
		enc := &xmlEncoder{si: sess.srv.si, b: &b, wd: wd, configOnly: configOnly}
		enc.encodeData(trees, filter)
	}
	if !configOnly {
		sess.srv.writeMonitoring(&b, monFilter)
	}
	b.WriteString("</data>")
	return reply{data: b.Bytes()}
}

// xpathData answers a get whose XPath filter the engine evaluates: the
// data the request can see is rendered, parsed and searched.
func (s *Server) xpathData(trees []*gen.Device, expr *xpath.Expr, wd wdMode, configOnly bool) reply {
	var all bytes.Buffer
	all.WriteString("<data>")
	enc := &xmlEncoder{si: s.si, b: &all, wd: wd, configOnly: configOnly}
	enc.encodeData(trees, nil)
	if !configOnly {
		s.writeMonitoring(&all, nil)
	}
	all.WriteString("</data>")
	doc, err := parseXML(all.Bytes())
	if err != nil {
		return fail(fmt.Errorf("render for XPath: %w", err))
	}
	var b bytes.Buffer
	b.WriteString("<data>")
	if err := s.si.xpathSelect(&b, doc, expr); err != nil {
		return reply{errs: []*rpcError{filterError(err)}}
	}
	b.WriteString("</data>")
	return reply{data: b.Bytes()}
}

// filterOf reads the <filter> of a get; the second result selects the
// protocol's own state (monitoring, YANG library): nil means all of it when
// there is no filter, nothing when there is one that does not name it.
func (s *Server) filterOf(op *xnode) (*fnode, *fnode, *rpcError) {
	x := op.childBase("filter")
	if x == nil {
		return nil, nil, nil
	}
	typ, _ := x.attr("", "type")
	if typ == "" {
		typ, _ = x.attr(nsBase, "type")
	}
	var f *fnode
	switch typ {
	case "", "subtree":
		f = s.si.parseSubtreeFilter(x)
	case "xpath":
		sel, ok := x.attr("", "select")
		if !ok {
			sel, ok = x.attr(nsBase, "select")
		}
		if !ok {
			e := badElement(schema.TagMissingAttribute, "filter", "an xpath filter needs a select attribute")
			e.BadAttr = "select"
			return nil, nil, e
		}
		var err error
		if f, err = s.si.parseXPathFilter(sel, x.namespaces()); err != nil {
			// Not a shape the filter tree expresses: the XPath engine.
			expr, cerr := compileXPath(sel, x.namespaces())
			if cerr != nil {
				return nil, nil, filterError(cerr)
			}
			return &fnode{xp: expr}, nil, nil
		}
	default:
		e := badElement(schema.TagBadAttribute, "filter", "filter type %q is not subtree or xpath", typ)
		e.BadAttr = "type"
		return nil, nil, e
	}
	mon := &fnode{}
	for _, c := range f.children {
		if c.module != nil && (c.module.Namespace == nsMonitoring || c.module.Namespace == nsYangLib) {
			mon.children = append(mon.children, c)
		}
	}
	return f, mon, nil
}

func (sess *session) editConfig(op *xnode) reply {
	ds, _, rerr := datastoreOf(op, "target", false)
	if rerr != nil {
		return reply{errs: []*rpcError{rerr}}
	}
	defOp := opMerge
	if d := op.childBase("default-operation"); d != nil {
		switch d.Text {
		case opMerge, opReplace, opNone:
			defOp = d.Text
		default:
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "default-operation", "default-operation %q is not merge, replace or none", d.Text)}}
		}
	}
	testOpt := "test-then-set"
	if t := op.childBase("test-option"); t != nil {
		switch t.Text {
		case "test-then-set", "set", "test-only":
			testOpt = t.Text
		default:
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "test-option", "test-option %q is not test-then-set, set or test-only", t.Text)}}
		}
	}
	errOpt := "stop-on-error"
	if e := op.childBase("error-option"); e != nil {
		switch e.Text {
		case "stop-on-error", "continue-on-error", "rollback-on-error":
			errOpt = e.Text
		default:
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "error-option", "error-option %q is not stop-on-error, continue-on-error or rollback-on-error", e.Text)}}
		}
	}
	cfg := op.childBase("config")
	if cfg == nil {
		u := op.childBase("url")
		if u == nil {
			return reply{errs: []*rpcError{badElement(schema.TagMissingElement, "config", "<config> is required")}}
		}
		var rerr *rpcError
		if cfg, rerr = sess.readURL(u); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
	}
	apply := func(nodes []*xnode) func(tx *schema.Tx) error {
		return func(tx *schema.Tx) error {
			ed := &editor{si: sess.srv.si, tx: tx}
			if defOp == opReplace {
				// Replace the whole datastore with <config>: start empty.
				if _, err := tx.Delete(nil); err != nil {
					return err
				}
			}
			for i, n := range nodes {
				if err := ed.applyTop(n, defOp); err != nil {
					return err
				}
				// The element is in the transaction now: dropping it
				// lets the collector free the parsed request (700,000
				// nodes for 100,000 bindings) instead of scanning it
				// again and again while the commit validates, diffs and
				// saves. Nothing reads the request after this.
				nodes[i] = nil
			}
			return nil
		}
	}
	if testOpt == "test-only" {
		if err := sess.srv.core.CheckTx(sess.core, ds, apply(cfg.Children)); err != nil {
			return fail(err)
		}
		return reply{}
	}
	// stop-on-error and rollback-on-error are the same here: an edit is
	// applied whole or not at all. continue-on-error applies each
	// top-level node on its own and reports every failure.
	if errOpt != "continue-on-error" || defOp == opReplace {
		if err := sess.srv.core.EditTx(sess.core, ds, apply(cfg.Children)); err != nil {
			return fail(err)
		}
		return reply{}
	}
	var r reply
	for _, n := range cfg.Children {
		if err := sess.srv.core.EditTx(sess.core, ds, apply([]*xnode{n})); err != nil {
			r.errs = append(r.errs, toRPCError(err))
		}
	}
	return r
}

func (sess *session) copyConfig(op *xnode) reply {
	targetURL, sourceURL := urlOf(op, "target"), urlOf(op, "source")
	var target, source server.Datastore
	var inline *xnode
	var rerr *rpcError
	if targetURL == nil {
		if target, _, rerr = datastoreOf(op, "target", false); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
	}
	if sourceURL != nil {
		if inline, rerr = sess.readURL(sourceURL); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
	} else if source, inline, rerr = datastoreOf(op, "source", true); rerr != nil {
		return reply{errs: []*rpcError{rerr}}
	}
	var cfg *gen.Device
	if inline != nil {
		var err error
		if cfg, err = sess.srv.si.treeFromConfig(inline); err != nil {
			return fail(err)
		}
	} else {
		if source == target {
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "source", "source and target are the same datastore")}}
		}
		var err error
		if cfg, err = sess.srv.core.Config(source); err != nil {
			return fail(err)
		}
	}
	if targetURL != nil {
		if rerr := sess.writeURL(targetURL, cfg); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
		return reply{}
	}
	if err := sess.srv.core.Replace(sess.core, target, cfg); err != nil {
		return fail(err)
	}
	return reply{}
}

func (sess *session) deleteConfig(op *xnode) reply {
	if u := urlOf(op, "target"); u != nil {
		if rerr := sess.deleteURL(u); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
		return reply{}
	}
	target, _, rerr := datastoreOf(op, "target", false)
	if rerr != nil {
		return reply{errs: []*rpcError{rerr}}
	}
	if target == server.Running {
		return reply{errs: []*rpcError{badElement(schema.TagOperationNotSupp, "running", "the running datastore cannot be deleted")}}
	}
	if err := sess.srv.core.Replace(sess.core, target, &gen.Device{}); err != nil {
		return fail(err)
	}
	return reply{}
}

func (sess *session) lock(op *xnode, lock bool) reply {
	ds, _, rerr := datastoreOf(op, "target", false)
	if rerr != nil {
		return reply{errs: []*rpcError{rerr}}
	}
	var err error
	if lock {
		err = sess.srv.core.Lock(sess.core, ds)
	} else {
		err = sess.srv.core.Unlock(sess.core, ds)
	}
	if err != nil {
		return fail(err)
	}
	return reply{}
}

func (sess *session) killSession(op *xnode) reply {
	x := op.childBase("session-id")
	if x == nil {
		return reply{errs: []*rpcError{badElement(schema.TagMissingElement, "session-id", "<session-id> is required")}}
	}
	id, err := strconv.ParseUint(x.Text, 10, 32)
	if err != nil || id == 0 {
		return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "session-id", "%q is not a session id", x.Text)}}
	}
	if _, err := sess.srv.core.KillSession(sess.core, uint32(id)); err != nil {
		return fail(err)
	}
	sess.srv.mu.Lock()
	victim := sess.srv.sessions[uint32(id)]
	sess.srv.mu.Unlock()
	if victim != nil {
		victim.kill()
	}
	return reply{}
}

func (sess *session) validate(op *xnode) reply {
	var ds server.Datastore
	var inline *xnode
	var rerr *rpcError
	if u := urlOf(op, "source"); u != nil {
		inline, rerr = sess.readURL(u)
	} else {
		ds, inline, rerr = datastoreOf(op, "source", true)
	}
	if rerr != nil {
		return reply{errs: []*rpcError{rerr}}
	}
	var err error
	if inline != nil {
		var cfg *gen.Device
		if cfg, err = sess.srv.si.treeFromConfig(inline); err == nil {
			err = sess.srv.core.ValidateTree(cfg)
		}
	} else {
		err = sess.srv.core.Validate(ds)
	}
	if err != nil {
		return fail(err)
	}
	return reply{}
}

func (sess *session) getSchema(op *xnode) reply {
	id := op.child(nsMonitoring, "identifier")
	if id == nil {
		return reply{errs: []*rpcError{badElement(schema.TagMissingElement, "identifier", "<identifier> is required")}}
	}
	if f := op.child(nsMonitoring, "format"); f != nil && f.Text != "yang" && !strings.HasSuffix(f.Text, ":yang") {
		return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "format", "only the yang format is available")}}
	}
	version := ""
	if v := op.child(nsMonitoring, "version"); v != nil {
		version = v.Text
	}
	m := sess.srv.si.libraryModule(id.Text, version)
	if m == nil {
		return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "identifier", "no schema %q revision %q", id.Text, version)}}
	}
	if m.Text == "" {
		return reply{errs: []*rpcError{protoErr(schema.TagOperationFailed,
			"the text of %s@%s is not installed on this element (looked in %s; Debian packages libyang2 and libyuma-base provide it)",
			m.Name, m.Revision, strings.Join(sess.srv.yangDirs, ", "))}}
	}
	var b bytes.Buffer
	b.WriteString(`<data xmlns="` + nsMonitoring + `">`)
	xmlEscape(&b, m.Text)
	b.WriteString("</data>")
	return reply{data: b.Bytes()}
}

// filterPaths turns a filter's nodes into the paths whose state the
// subsystems must render: all of it without a filter, nothing of ours when
// the filter names none of our nodes.
func filterPaths(f *fnode) []*gpb.Path {
	if f == nil {
		return nil
	}
	var out []*gpb.Path
	var rec func(n *fnode, prefix []*gpb.PathElem)
	rec = func(n *fnode, prefix []*gpb.PathElem) {
		p := append(clonePath(prefix), &gpb.PathElem{Name: n.name})
		var named []*fnode
		for _, c := range n.children {
			if !c.hasMatch {
				named = append(named, c)
			}
		}
		if n.all || len(named) == 0 {
			out = append(out, &gpb.Path{Elem: p})
			return
		}
		for _, c := range named {
			rec(c, p)
		}
	}
	for _, c := range f.children {
		rec(c, nil)
	}
	if len(out) == 0 {
		// An empty list would mean "everything" to the subsystems.
		out = append(out, &gpb.Path{Elem: []*gpb.PathElem{{Name: "-"}}})
	}
	return out
}
