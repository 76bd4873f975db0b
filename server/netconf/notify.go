package netconf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// notifQueue bounds the events waiting for one subscriber; a session that
// falls this far behind is cut off rather than allowed to slow anything.
const notifQueue = 4096

// createSubscription starts RFC 5277 notifications on the NETCONF stream.
func (sess *session) createSubscription(op *xnode) reply {
	if s := op.child(nsNotif, "stream"); s != nil && s.Text != "NETCONF" {
		return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "stream", "unknown stream %q; this element has NETCONF", s.Text)}}
	}
	var start, stop time.Time
	if x := op.child(nsNotif, "startTime"); x != nil {
		if sess.srv.replay == nil {
			return reply{errs: []*rpcError{badElement(schema.TagOperationNotSupp, "startTime", "replay is not supported: the element keeps no notification history (no data directory)")}}
		}
		t, err := time.Parse(time.RFC3339Nano, x.Text)
		if err != nil {
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "startTime", "startTime %q is not a date-and-time", x.Text)}}
		}
		if t.After(time.Now()) {
			return reply{errs: []*rpcError{badElement(schema.TagBadElement, "startTime", "startTime %s is in the future", x.Text)}}
		}
		start = t
	}
	if x := op.child(nsNotif, "stopTime"); x != nil {
		if start.IsZero() {
			return reply{errs: []*rpcError{badElement(schema.TagMissingElement, "startTime", "stopTime needs startTime")}}
		}
		t, err := time.Parse(time.RFC3339Nano, x.Text)
		if err != nil {
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "stopTime", "stopTime %q is not a date-and-time", x.Text)}}
		}
		if !t.After(start) {
			return reply{errs: []*rpcError{badElement(schema.TagBadElement, "stopTime", "stopTime must be later than startTime")}}
		}
		stop = t
	}
	var filter *fnode
	f := op.child(nsNotif, "filter")
	if f == nil {
		f = op.childBase("filter")
	}
	if f != nil {
		// RFC 5277's filter is the base protocol's, in either namespace.
		asBase := &xnode{Name: xml.Name{Space: nsBase, Local: "filter"}, Attr: f.Attr, Children: f.Children, NS: f.NS, Text: f.Text}
		var rerr *rpcError
		if filter, _, rerr = sess.srv.filterOf(&xnode{Children: []*xnode{asBase}}); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
	}
	sess.wmu.Lock()
	already := sess.notif != nil
	sess.wmu.Unlock()
	if already {
		return reply{errs: []*rpcError{protoErr(schema.TagOperationFailed, "this session already has a subscription")}}
	}
	sub := sess.srv.core.Hub().Subscribe(notifQueue, func(e *events.Event) bool {
		return e.Kind == events.Notification || e.Kind == events.ConfigChange
	})
	sess.wmu.Lock()
	sess.notif = sub
	sess.wmu.Unlock()
	var replayed []replayEntry
	if !start.IsZero() {
		// After the hub subscription: nothing falls between the two.
		replayed = sess.srv.replay.between(start, stop)
	}
	return reply{after: func() { go sess.forward(sub, filter, start, stop, replayed) }}
}

// forward sends what the subscription selects: the replayed history and
// replayComplete first when startTime was given, then live events, until
// stopTime (notificationComplete) or the session ends.
func (sess *session) forward(sub *server.Subscription, filter *fnode, start, stop time.Time, replayed []replayEntry) {
	var last time.Time
	if !start.IsZero() {
		for _, r := range replayed {
			// NACM decides on replayed notifications as on live ones
			// (RFC 8341 section 3.4.6): the log holds what everyone saw.
			if !sess.srv.replayPermitted(sess.core, r.msg) || !sess.srv.replaySelected(r.msg, filter) {
				continue
			}
			if err := sess.write(r.msg); err != nil {
				return
			}
			sess.outNotifications.Add(1)
			sess.srv.stats.outNotifications.Add(1)
			last = r.time
		}
		if err := sess.write(controlNotification("replayComplete")); err != nil {
			return
		}
	}
	var stopC <-chan time.Time
	if !stop.IsZero() {
		timer := time.NewTimer(time.Until(stop))
		defer timer.Stop()
		stopC = timer.C
	}
	for {
		var e events.Event
		var open bool
		select {
		case e, open = <-sub.C:
		case <-stopC:
			sess.endSubscription(sub)
			return
		}
		if !open {
			break
		}
		if !last.IsZero() && !e.Time.After(last) {
			continue // already replayed
		}
		if !stop.IsZero() && e.Time.After(stop) {
			sess.endSubscription(sub)
			return
		}
		if !sess.srv.core.EventPermitted(sess.core, &e) {
			continue // RFC 8341 section 3.4.6: withheld, counted
		}
		msg, ok := sess.srv.renderNotification(&e, filter)
		if !ok {
			continue
		}
		// The reply to create-subscription went first: forward
		// starts once it is written (reply.after).
		if err := sess.write(msg); err != nil {
			return
		}
		sess.outNotifications.Add(1)
		sess.srv.stats.outNotifications.Add(1)
	}
	if errors.Is(sub.Err(), server.ErrSlowConsumer) {
		sess.srv.log.Warn("notification subscriber too slow; closing its session", "session", sess.core.ID)
		sess.kill()
	}
}

// endSubscription sends notificationComplete at stopTime and ends the
// subscription, so that the session may create another.
func (sess *session) endSubscription(sub *server.Subscription) {
	sess.write(controlNotification("notificationComplete"))
	sub.Close()
	sess.wmu.Lock()
	if sess.notif == sub {
		sess.notif = nil
	}
	sess.wmu.Unlock()
}

// replayPermitted asks NACM whether sess may receive a stored
// notification, named by its body element: the element's namespace gives
// the module (any module of the YANG library). A message that does not
// parse is withheld.
func (s *Server) replayPermitted(sess *server.Session, msg []byte) bool {
	space, name, ok := notificationBody(msg)
	if !ok {
		return false
	}
	module := space // an unknown namespace matches no module-name rule
	for _, m := range s.si.library {
		if m.Namespace == space {
			module = m.Name
			break
		}
	}
	return s.core.NotificationPermitted(sess, module, name)
}

// notificationBody returns the namespace and name of the element after
// eventTime in an RFC 5277 notification, reading no further than that.
func notificationBody(msg []byte) (space, name string, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(msg))
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return "", "", false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && t.Name.Local != "eventTime" {
				return t.Name.Space, t.Name.Local, true
			}
		case xml.EndElement:
			depth--
		}
	}
}

// replaySelected applies a subscription's filter to a stored
// notification.
func (s *Server) replaySelected(msg []byte, filter *fnode) bool {
	if filter == nil {
		return true
	}
	x, err := parseXML(msg)
	if err != nil || len(x.Children) < 2 {
		return false
	}
	body := x.Children[1]
	if filter.xp != nil {
		doc := &xnode{Name: xml.Name{Local: "n"}, Children: []*xnode{body}}
		saved := body.Parent
		body.Parent = doc
		defer func() { body.Parent = saved }()
		var sel bytes.Buffer
		return s.si.xpathSelect(&sel, doc, filter.xp) == nil && sel.Len() > 0
	}
	for _, c := range filter.children {
		if c.name != body.Name.Local && c.name != "*" {
			continue
		}
		if c.module != nil && c.module.Namespace != "" && c.module.Namespace != body.Name.Space {
			continue
		}
		ok := true
		for _, cm := range c.contentMatches() {
			l := body.child(body.Name.Space, cm.name)
			ok = ok && l != nil && l.Text == cm.match
		}
		if ok {
			return true
		}
	}
	return false
}

func (sess *session) stopNotifications() {
	sess.stopPush()
	sess.wmu.Lock()
	sub := sess.notif
	sess.wmu.Unlock()
	if sub != nil {
		sub.Close()
	}
}

// renderNotification writes an event as a <notification>, if the filter
// selects it.
func (s *Server) renderNotification(e *events.Event, filter *fnode) ([]byte, bool) {
	var body bytes.Buffer
	var name, ns string
	switch e.Kind {
	case events.ConfigChange:
		name, ns = "netconf-config-change", nsNCNotif
		s.writeConfigChange(&body, e.Commit)
	case events.Notification:
		name = e.Name
		if e.Module == "ietf-netconf-notifications" {
			ns = nsNCNotif
		} else {
			m := s.moduleByName(e.Module)
			if m == nil {
				return nil, false
			}
			ns = m.Namespace
		}
		for _, l := range e.Leaves {
			if l.Value == nil {
				continue
			}
			body.WriteString("<" + l.Name + ">")
			xmlEscape(&body, leafValueText(l.Value))
			body.WriteString("</" + l.Name + ">")
		}
	default:
		return nil, false
	}
	switch {
	case filter != nil && filter.xp != nil:
		// The XPath engine over the notification's content.
		var doc bytes.Buffer
		doc.WriteString("<n><" + name + ` xmlns="` + ns + `">`)
		doc.Write(body.Bytes())
		doc.WriteString("</" + name + "></n>")
		x, err := parseXML(doc.Bytes())
		if err != nil {
			return nil, false
		}
		var sel bytes.Buffer
		if s.si.xpathSelect(&sel, x, filter.xp) != nil || sel.Len() == 0 {
			return nil, false
		}
	case filter != nil && !notificationSelected(filter, name, ns, e):
		return nil, false
	}
	var b bytes.Buffer
	b.WriteString(`<notification xmlns="` + nsNotif + `"><eventTime>`)
	b.WriteString(e.Time.UTC().Format(time.RFC3339Nano))
	b.WriteString("</eventTime><" + name + ` xmlns="` + ns + `">`)
	b.Write(body.Bytes())
	b.WriteString("</" + name + "></notification>")
	return b.Bytes(), true
}

func (s *Server) moduleByName(name string) *module {
	for _, m := range s.si.modules {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// notificationSelected applies a filter to a notification: a top-level
// filter node must name it (and its namespace), and its content matches
// must hold on the notification's leaves.
func notificationSelected(f *fnode, name, ns string, e *events.Event) bool {
	for _, c := range f.children {
		if c.name != name && c.name != "*" {
			continue
		}
		if c.module != nil && c.module.Namespace != "" && c.module.Namespace != ns {
			continue
		}
		ok := true
		for _, cm := range c.contentMatches() {
			found := false
			for _, l := range e.Leaves {
				if l.Name == cm.name && leafValueText(l.Value) == cm.match {
					found = true
				}
			}
			ok = ok && found
		}
		if ok {
			return true
		}
	}
	return false
}

// writeConfigChange renders the body of RFC 6470 netconf-config-change.
func (s *Server) writeConfigChange(b *bytes.Buffer, c *events.Commit) {
	if c == nil {
		return
	}
	b.WriteString("<changed-by>")
	if c.SessionID == 0 {
		b.WriteString("<server/>")
	} else {
		b.WriteString("<username>")
		xmlEscape(b, c.User)
		b.WriteString("</username><session-id>" + strconv.FormatUint(uint64(c.SessionID), 10) + "</session-id>")
	}
	b.WriteString("</changed-by><datastore>running</datastore>")
	for _, ed := range c.Edits {
		path, decl := s.si.xpath(ed.Path)
		b.WriteString("<edit><target")
		writeNSDecls(b, decl)
		b.WriteString(">")
		xmlEscape(b, path)
		b.WriteString("</target><operation>" + ed.Operation + "</operation></edit>")
	}
}

func leafValueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}
