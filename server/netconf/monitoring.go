package netconf

import (
	"bytes"
	"encoding/xml"
	"sort"
	"strconv"
	"time"

	"github.com/wirebeat/wirebeat/server"
)

// The protocol's own state: ietf-netconf-monitoring (RFC 6022) and the
// YANG library (RFC 8525). They are not part of our tree; they are built as
// XML here and filtered with the same subtree rules.

// el builds an element with text or children.
func el(name string, kids ...*xnode) *xnode {
	return &xnode{Name: xml.Name{Local: name}, Children: kids}
}

func leafEl(name, text string) *xnode {
	return &xnode{Name: xml.Name{Local: name}, Text: text}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func u32(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func (s *Server) netconfState() *xnode {
	caps := el("capabilities")
	for _, c := range s.caps {
		caps.Children = append(caps.Children, leafEl("capability", c))
	}
	locks := s.core.Locks()
	dss := el("datastores")
	for _, ds := range []server.Datastore{server.Running, server.Candidate, server.Startup} {
		d := el("datastore", leafEl("name", string(ds)))
		if l, ok := locks[ds]; ok {
			d.Children = append(d.Children, el("locks", el("global-lock",
				leafEl("locked-by-session", u32(l.Session)), leafEl("locked-time", ts(l.Since)))))
		}
		dss.Children = append(dss.Children, d)
	}
	schemas := el("schemas")
	for _, m := range s.si.library {
		sc := el("schema", leafEl("identifier", m.Name), leafEl("version", m.Revision), leafEl("format", "yang"),
			leafEl("namespace", m.Namespace))
		if m.Text != "" { // only what get-schema can serve
			sc.Children = append(sc.Children, leafEl("location", "NETCONF"))
		}
		schemas.Children = append(schemas.Children, sc)
	}
	sessions := el("sessions")
	s.mu.Lock()
	ids := make([]uint32, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		sess := s.sessions[id]
		sessions.Children = append(sessions.Children, el("session",
			leafEl("session-id", u32(id)), leafEl("transport", "netconf-ssh"),
			leafEl("username", sess.core.User), leafEl("source-host", sess.host),
			leafEl("login-time", ts(sess.start)),
			leafEl("in-rpcs", u32(sess.inRPCs.Load())), leafEl("in-bad-rpcs", u32(sess.inBadRPCs.Load())),
			leafEl("out-rpc-errors", u32(sess.outRPCErrors.Load())),
			leafEl("out-notifications", u32(sess.outNotifications.Load()))))
	}
	s.mu.Unlock()
	st := &s.stats
	stats := el("statistics",
		leafEl("netconf-start-time", ts(s.start)),
		leafEl("in-bad-hellos", u32(st.inBadHellos.Load())), leafEl("in-sessions", u32(st.inSessions.Load())),
		leafEl("dropped-sessions", u32(st.droppedSessions.Load())), leafEl("in-rpcs", u32(st.inRPCs.Load())),
		leafEl("in-bad-rpcs", u32(st.inBadRPCs.Load())), leafEl("out-rpc-errors", u32(st.outRPCErrors.Load())),
		leafEl("out-notifications", u32(st.outNotifications.Load())))
	root := el("netconf-state", caps, dss, schemas, sessions, stats)
	root.Name.Space = nsMonitoring
	return root
}

func (s *Server) yangLibrary() *xnode {
	set := el("module-set", leafEl("name", "all"))
	var imports []*xnode
	for _, m := range s.si.library {
		if m.ImportOnly {
			imports = append(imports, el("import-only-module",
				leafEl("name", m.Name), leafEl("revision", m.Revision), leafEl("namespace", m.Namespace)))
			continue
		}
		mod := el("module", leafEl("name", m.Name), leafEl("revision", m.Revision), leafEl("namespace", m.Namespace))
		for _, f := range m.Features {
			mod.Children = append(mod.Children, leafEl("feature", f))
		}
		set.Children = append(set.Children, mod)
	}
	set.Children = append(set.Children, imports...)
	root := el("yang-library", set, el("schema", leafEl("name", "all"), leafEl("module-set", "all")))
	for _, ds := range []string{"running", "candidate", "startup", "intended", "operational"} {
		root.Children = append(root.Children, el("datastore", leafEl("name", "ds:"+ds), leafEl("schema", "all")))
	}
	root.Children = append(root.Children, leafEl("content-id", s.contentID()))
	root.Name.Space = nsYangLib
	return root
}

// modulesState is the RFC 7895 form of the library, deprecated by RFC
// 8525 but what clients without NMDA support read.
func (s *Server) modulesState() *xnode {
	root := el("modules-state", leafEl("module-set-id", s.contentID()))
	for _, m := range s.si.library {
		conf := "implement"
		if m.ImportOnly {
			conf = "import"
		}
		mod := el("module", leafEl("name", m.Name), leafEl("revision", m.Revision), leafEl("namespace", m.Namespace))
		for _, f := range m.Features {
			mod.Children = append(mod.Children, leafEl("feature", f))
		}
		mod.Children = append(mod.Children, leafEl("conformance-type", conf))
		root.Children = append(root.Children, mod)
	}
	root.Name.Space = nsYangLib
	return root
}

// writeMonitoring writes the protocol's state selected by filter (nil: all).
func (s *Server) writeMonitoring(b *bytes.Buffer, filter *fnode) {
	s.writeMonitoringAttr(b, filter, "")
}

// writeMonitoringAttr is writeMonitoring with attr (an origin annotation)
// on each top-level element.
func (s *Server) writeMonitoringAttr(b *bytes.Buffer, filter *fnode, attr string) {
	for _, top := range []*xnode{s.netconfState(), s.yangLibrary(), s.modulesState()} {
		var sel *xnode
		if filter == nil {
			sel = top
		} else {
			for _, f := range filter.children {
				if (f.name == top.Name.Local || f.name == "*") && (f.module == nil || f.module.Namespace == top.Name.Space) {
					sel = mergeSel(sel, filterXML(top, f))
				}
			}
		}
		if sel != nil {
			writeXNode(b, sel, top.Name.Space, attr)
		}
	}
}

// filterXML applies a subtree filter node to a built element, returning
// the selected copy or nil.
func filterXML(x *xnode, f *fnode) *xnode {
	for _, cm := range f.contentMatches() {
		c := x.child(x.Name.Space, cm.name)
		if c == nil {
			c = x.child("", cm.name)
		}
		if c == nil || c.Text != cm.match {
			return nil
		}
	}
	if f.all || f.onlyMatches() {
		return x
	}
	out := &xnode{Name: x.Name}
	for _, c := range x.Children {
		var got *xnode
		for _, fc := range f.children {
			switch {
			case fc.hasMatch && fc.name == c.Name.Local:
				got = c
			case !fc.hasMatch && (fc.name == c.Name.Local || fc.name == "*"):
				got = mergeSel(got, filterXML(c, fc))
			}
		}
		if got != nil {
			out.Children = append(out.Children, got)
		}
	}
	if len(out.Children) == 0 {
		return nil
	}
	return out
}

// mergeSel combines two selections of the same element (two filter nodes
// naming it); the larger one wins, which is exact for the whole-element
// and disjoint cases filters produce here.
func mergeSel(a, b *xnode) *xnode {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case len(b.Children) > len(a.Children):
		return b
	}
	return a
}

func writeXNode(b *bytes.Buffer, x *xnode, ns, attr string) {
	b.WriteString("<" + x.Name.Local)
	if ns != "" {
		b.WriteString(` xmlns="` + ns + `"`)
		if ns == nsYangLib {
			b.WriteString(` xmlns:ds="` + nsNMDA + `"`)
		}
	}
	b.WriteString(attr)
	b.WriteString(">")
	if len(x.Children) == 0 {
		xmlEscape(b, x.Text)
	}
	for _, c := range x.Children {
		writeXNode(b, c, "", "")
	}
	b.WriteString("</" + x.Name.Local + ">")
}
