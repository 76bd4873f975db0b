package netconf

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// The NMDA operations of RFC 8526: <get-data> reads any datastore of RFC
// 8342 (running, candidate, startup, intended, operational) with the
// config-filter, origin filters, max-depth, with-origin and with-defaults
// parameters; <edit-data> edits a conventional datastore as edit-config
// does. intended is running as is: the element has no inactive or
// template configuration that would make them differ. operational is
// the configuration in use (running, applied by the commit pipeline) and
// every state leaf, with the protocol's own state (monitoring, YANG
// library) as system state.

// nmdaDatastore reads <datastore> (an identity of ietf-datastores).
func nmdaDatastore(op *xnode) (string, *rpcError) {
	d := op.child(nsNCNMDA, "datastore")
	if d == nil {
		return "", badElement(schema.TagMissingElement, "datastore", "<datastore> is required")
	}
	prefix, local, ok := strings.Cut(strings.TrimSpace(d.Text), ":")
	if !ok {
		local, prefix = prefix, ""
	}
	if d.NS[prefix] != nsNMDA {
		return "", badElement(schema.TagInvalidValue, "datastore", "datastore %q is not an identity of ietf-datastores (%s)", d.Text, nsNMDA)
	}
	switch local {
	case "running", "candidate", "startup", "intended", "operational":
		return local, nil
	}
	return "", badElement(schema.TagInvalidValue, "datastore", "no datastore %q: this element has running, candidate, startup, intended and operational", local)
}

// originSet is what the origin filters let through: configuration
// (or:intended) and state (or:system).
type originSet struct{ config, state bool }

func parseOrigins(op *xnode) (originSet, *rpcError) {
	all := originSet{true, true}
	var pos, neg []*xnode
	for _, c := range op.Children {
		switch {
		case c.Name.Space == nsNCNMDA && c.Name.Local == "origin-filter":
			pos = append(pos, c)
		case c.Name.Space == nsNCNMDA && c.Name.Local == "negated-origin-filter":
			neg = append(neg, c)
		}
	}
	if len(pos) > 0 && len(neg) > 0 {
		return all, badElement(schema.TagBadElement, "negated-origin-filter", "origin-filter and negated-origin-filter exclude each other")
	}
	match := func(xs []*xnode) (originSet, *rpcError) {
		var m originSet
		for _, x := range xs {
			prefix, local, ok := strings.Cut(strings.TrimSpace(x.Text), ":")
			if !ok || x.NS[prefix] != nsOrigin {
				return m, badElement(schema.TagInvalidValue, x.Name.Local, "%q is not an identity of ietf-origin", x.Text)
			}
			switch local {
			case "origin": // the base identity: everything
				m = originSet{true, true}
			case "intended":
				m.config = true
			case "system":
				m.state = true
			case "learned", "default", "dynamic", "unknown":
			default:
				return m, badElement(schema.TagInvalidValue, x.Name.Local, "unknown origin %q", local)
			}
		}
		return m, nil
	}
	switch {
	case len(pos) > 0:
		return match(pos)
	case len(neg) > 0:
		m, err := match(neg)
		return originSet{!m.config, !m.state}, err
	}
	return all, nil
}

func (sess *session) getData(op *xnode) reply {
	srv := sess.srv
	ds, rerr := nmdaDatastore(op)
	if rerr != nil {
		return reply{errs: []*rpcError{rerr}}
	}
	wd := wdExplicit
	if w := op.child(nsNCNMDA, "with-defaults"); w != nil {
		m, ok := parseWD(w.Text)
		if !ok {
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "with-defaults", "with-defaults %q is not report-all, report-all-tagged, trim or explicit", w.Text)}}
		}
		wd = m
	}
	want := originSet{true, true}
	if c := op.child(nsNCNMDA, "config-filter"); c != nil {
		switch c.Text {
		case "true":
			want.state = false
		case "false":
			want.config = false
		default:
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "config-filter", "config-filter %q is not true or false", c.Text)}}
		}
	}
	maxDepth := 0
	if m := op.child(nsNCNMDA, "max-depth"); m != nil && m.Text != "unbounded" {
		n, err := strconv.ParseUint(m.Text, 10, 16)
		if err != nil || n == 0 {
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "max-depth", "max-depth %q is not 1..65535 or unbounded", m.Text)}}
		}
		maxDepth = int(n)
	}
	withOrigin := op.child(nsNCNMDA, "with-origin") != nil
	operational := ds == "operational"
	if withOrigin && !operational {
		return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "with-origin", "with-origin applies to the operational datastore only (RFC 8526 section 3.1.1)")}}
	}
	origins, rerr := parseOrigins(op)
	if rerr != nil {
		return reply{errs: []*rpcError{rerr}}
	}
	if !operational && (op.child(nsNCNMDA, "origin-filter") != nil || op.child(nsNCNMDA, "negated-origin-filter") != nil) {
		return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "origin-filter", "origin filters apply to the operational datastore only")}}
	}
	want.config = want.config && origins.config
	want.state = want.state && origins.state && operational // conventional datastores hold no state

	// The filter: <subtree-filter> or <xpath-filter>, as <filter> of get.
	var filter *fnode
	if f := op.child(nsNCNMDA, "subtree-filter"); f != nil {
		filter = srv.si.parseSubtreeFilter(f)
	} else if f := op.child(nsNCNMDA, "xpath-filter"); f != nil {
		as := &xnode{Name: xml.Name{Space: nsBase, Local: "filter"}, NS: f.NS,
			Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "xpath"}, {Name: xml.Name{Local: "select"}, Value: f.Text}}}
		var mon *fnode
		if filter, mon, rerr = srv.filterOf(&xnode{Children: []*xnode{as}}); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
		_ = mon
	}

	var trees []*gen.Device
	switch ds {
	case "running", "intended":
		trees = []*gen.Device{srv.core.Running()}
	case "candidate", "startup":
		cfg, err := srv.core.Config(server.Datastore(ds))
		if err != nil {
			return fail(err)
		}
		trees = []*gen.Device{cfg}
	case "operational":
		trees = []*gen.Device{srv.core.Running()}
		if want.state {
			var paths []*gpb.Path
			if filter == nil || filter.xp == nil {
				paths = filterPaths(filter)
			}
			state, err := srv.core.State(paths)
			if err != nil {
				return fail(err)
			}
			trees = append(trees, state)
		}
	}

	for i, t := range trees {
		trees[i] = srv.core.Readable(sess.core, t) // hashes for admins only
	}
	var body bytes.Buffer
	if want.config || want.state {
		enc := &xmlEncoder{si: srv.si, b: &body, wd: wd, configOnly: !want.state, stateOnly: !want.config, origins: withOrigin}
		if filter != nil && filter.xp != nil {
			enc.encodeData(trees, nil)
		} else if filter == nil || len(filter.children) > 0 {
			enc.encodeData(trees, filter)
		}
		if want.state {
			attr := ""
			if withOrigin {
				attr = ` xmlns:or="` + nsOrigin + `" or:origin="` + originSystem + `"`
			}
			var monFilter *fnode
			if filter != nil && filter.xp == nil {
				monFilter = &fnode{}
				for _, c := range filter.children {
					if c.module != nil && (c.module.Namespace == nsMonitoring || c.module.Namespace == nsYangLib) {
						monFilter.children = append(monFilter.children, c)
					}
				}
			}
			if filter == nil || filter.xp != nil || len(monFilter.children) > 0 {
				srv.writeMonitoringAttr(&body, monFilter, attr)
			}
		}
	}
	var b bytes.Buffer
	b.WriteString(`<data xmlns="` + nsNCNMDA + `">`)
	if (filter != nil && filter.xp != nil) || maxDepth > 0 {
		// Select (XPath) or cut (max-depth) on the parsed rendering.
		doc, err := parseXML([]byte("<data>" + body.String() + "</data>"))
		if err != nil {
			return fail(fmt.Errorf("render for get-data: %w", err))
		}
		if filter != nil && filter.xp != nil {
			if err := srv.si.xpathSelect(&b, doc, filter.xp, maxDepth); err != nil {
				return reply{errs: []*rpcError{filterError(err)}}
			}
		} else {
			w := &selWriter{si: srv.si, b: &b, doc: doc, selected: selectedBy(doc, filter), maxDepth: maxDepth}
			w.write()
		}
	} else {
		b.Write(body.Bytes())
	}
	b.WriteString("</data>")
	return reply{data: b.Bytes()}
}

// selectedBy returns the nodes of doc a subtree filter selects (the
// top-level nodes without one): where max-depth counts from.
func selectedBy(doc *xnode, filter *fnode) map[*xnode]bool {
	sel := map[*xnode]bool{}
	var walk func(x *xnode, f *fnode)
	walk = func(x *xnode, f *fnode) {
		if f.all || f.onlyMatches() {
			sel[x] = true
			return
		}
		for _, c := range x.Children {
			for _, fc := range f.childrenNamed(c.Name.Local) {
				walk(c, fc)
			}
		}
	}
	for _, c := range doc.Children {
		if filter == nil {
			sel[c] = true
			continue
		}
		for _, fc := range filter.childrenNamed(c.Name.Local) {
			if fc.module == nil || fc.module.Namespace == c.Name.Space {
				walk(c, fc)
			}
		}
	}
	return sel
}

// editData serves <edit-data> as edit-config of the same datastore:
// running, candidate or startup (the conventional ones, RFC 8526 section
// 3.2).
func (sess *session) editData(op *xnode) reply {
	ds, rerr := nmdaDatastore(op)
	if rerr != nil {
		return reply{errs: []*rpcError{rerr}}
	}
	switch ds {
	case "running", "candidate", "startup":
	default:
		return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "datastore", "%s is not a conventional datastore: edit-data writes running, candidate or startup", ds)}}
	}
	if op.child(nsNCNMDA, "url") != nil {
		return reply{errs: []*rpcError{badElement(schema.TagOperationNotSupp, "url", "the :url capability is not supported")}}
	}
	cfg := op.child(nsNCNMDA, "config")
	if cfg == nil {
		return reply{errs: []*rpcError{badElement(schema.TagMissingElement, "config", "<config> is required")}}
	}
	edit := &xnode{Name: xml.Name{Space: nsBase, Local: "edit-config"}, NS: op.NS, Children: []*xnode{
		{Name: xml.Name{Space: nsBase, Local: "target"}, Children: []*xnode{{Name: xml.Name{Space: nsBase, Local: ds}}}},
		{Name: xml.Name{Space: nsBase, Local: "config"}, Children: cfg.Children, NS: cfg.NS},
	}}
	if d := op.child(nsNCNMDA, "default-operation"); d != nil {
		edit.Children = append(edit.Children, &xnode{Name: xml.Name{Space: nsBase, Local: "default-operation"}, Text: d.Text})
	}
	return sess.editConfig(edit)
}
