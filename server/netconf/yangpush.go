package netconf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// YANG-Push: dynamic subscriptions of RFC 8639 (ietf-subscribed-
// notifications) over NETCONF (RFC 8640), to the NETCONF event stream or,
// with RFC 8641 (ietf-yang-push), to a datastore: periodic push-update
// of the selection, or on-change push-change-update with the changes as
// a YANG patch (RFC 8072). They share the event hub with gNMI Subscribe
// and create-subscription: commits and engine events trigger an on-change
// subscription, which then renders its selection and sends what changed
// since the last update; operational state without events (counters,
// clocks) is read at most every dampening period, at least every
// pushStatePoll. Every subscription has a bounded hub queue: one that
// falls behind is terminated, never waited for.

const (
	nsSN    = "urn:ietf:params:xml:ns:yang:ietf-subscribed-notifications"
	nsYP    = "urn:ietf:params:xml:ns:yang:ietf-yang-push"
	nsPatch = "urn:ietf:params:xml:ns:yang:ietf-yang-patch"
)

// Bounds of YANG-Push.
const (
	maxPushPerSession = 16
	minPushPeriod     = 10 * time.Millisecond // 1 centisecond, the unit
	pushStatePoll     = 500 * time.Millisecond
)

var (
	pushIDs  atomic.Uint32
	pushSubs sync.Map // id -> *pushSub
)

// pushSub is one dynamic subscription.
type pushSub struct {
	id       uint32
	sess     *session
	stream   bool // the NETCONF event stream, not a datastore
	ds       string
	filter   *fnode
	period   time.Duration // periodic; 0: on-change
	anchor   time.Time
	dampen   time.Duration
	syncOn   bool
	stop     time.Time
	done     chan struct{}
	doneOnce sync.Once
	last     *xnode // on-change: the selection last sent
	patchSeq int
	hub      *server.Subscription // nil for periodic subscriptions
	// filterXML is the filter element as given, echoed in
	// subscription-modified.
	filterXML string
	// replay: the stream's history since replay-start-time, sent before
	// live events (RFC 8639 section 2.4.2.1).
	replay   bool
	replayed []replayEntry
	mods     chan *pushMod // modify-subscription, applied by runPush
}

// end stops the subscription, whether or not its goroutine started.
func (p *pushSub) end() {
	p.doneOnce.Do(func() {
		close(p.done)
		if p.hub != nil {
			p.hub.Close()
		}
	})
}

func snErr(tag schema.Tag, elem, appTag, format string, args ...any) reply {
	e := badElement(tag, elem, format, args...)
	e.AppTag = appTag
	return reply{errs: []*rpcError{e}}
}

// establishSubscription serves <establish-subscription>.
func (sess *session) establishSubscription(op *xnode) reply {
	n := 0
	pushSubs.Range(func(_, v any) bool {
		if v.(*pushSub).sess == sess {
			n++
		}
		return true
	})
	if n >= maxPushPerSession {
		return snErr(schema.TagResourceDenied, "establish-subscription", "", "this session has %d subscriptions, the most it may have", n)
	}
	p := &pushSub{sess: sess, done: make(chan struct{}), syncOn: true, mods: make(chan *pushMod)}
	if e := op.child(nsSN, "encoding"); e != nil && !strings.HasSuffix(strings.TrimSpace(e.Text), "encode-xml") {
		return snErr(schema.TagInvalidValue, "encoding", "ietf-subscribed-notifications:encoding-unsupported", "encoding %q: this server encodes XML", e.Text)
	}
	var replayStart time.Time
	if rs := op.child(nsSN, "replay-start-time"); rs != nil {
		if op.child(nsSN, "stream") == nil {
			return snErr(schema.TagInvalidValue, "replay-start-time", "ietf-subscribed-notifications:replay-unsupported", "replay is for event stream subscriptions")
		}
		if sess.srv.replay == nil {
			return snErr(schema.TagOperationNotSupp, "replay-start-time", "ietf-subscribed-notifications:replay-unsupported", "replay is not supported: the element keeps no notification history (no data directory)")
		}
		t, err := time.Parse(time.RFC3339Nano, rs.Text)
		if err != nil || !t.Before(time.Now()) {
			return snErr(schema.TagInvalidValue, "replay-start-time", "ietf-subscribed-notifications:replay-unsupported", "replay-start-time %q is not a date-and-time in the past", rs.Text)
		}
		replayStart, p.replay = t, true
	}
	if st := op.child(nsSN, "stop-time"); st != nil {
		t, rerr := parseStopTime(st)
		if rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
		p.stop = t
	}
	var rerr *rpcError
	switch {
	case op.child(nsSN, "stream") != nil:
		if s := op.child(nsSN, "stream"); s.Text != "NETCONF" {
			return snErr(schema.TagInvalidValue, "stream", "ietf-subscribed-notifications:stream-unavailable", "no stream %q; this element has NETCONF", s.Text)
		}
		p.stream = true
		if p.filter, p.filterXML, rerr = sess.srv.pushFilter(op, nsSN, "stream-subtree-filter", "stream-xpath-filter"); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
	case op.child(nsYP, "datastore") != nil:
		ds, rerr := datastoreIdentity(op.child(nsYP, "datastore"))
		if rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
		p.ds = ds
		if p.filter, p.filterXML, rerr = sess.srv.pushFilter(op, nsYP, "datastore-subtree-filter", "datastore-xpath-filter"); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
		switch per, oc := op.child(nsYP, "periodic"), op.child(nsYP, "on-change"); {
		case per != nil:
			if p.period, p.anchor, rerr = parsePeriodic(per); rerr != nil {
				return reply{errs: []*rpcError{rerr}}
			}
		case oc != nil:
			if p.dampen, rerr = parseDampening(oc); rerr != nil {
				return reply{errs: []*rpcError{rerr}}
			}
			if s := oc.child(nsYP, "sync-on-start"); s != nil {
				p.syncOn = s.Text != "false"
			}
			if oc.child(nsYP, "excluded-change") != nil {
				return snErr(schema.TagOperationNotSupp, "excluded-change", "", "excluded-change is not supported")
			}
		default:
			return snErr(schema.TagMissingElement, "periodic", "", "a datastore subscription needs <periodic> or <on-change>")
		}
	default:
		return snErr(schema.TagMissingElement, "stream", "", "give a <stream> or a yang-push <datastore>")
	}
	p.id = pushIDs.Add(1)
	pushSubs.Store(p.id, p)
	if p.stream || p.period == 0 {
		// Before the reply: nothing that follows it is missed.
		p.hub = sess.srv.core.Hub().Subscribe(notifQueue, func(e *events.Event) bool {
			if p.stream {
				return e.Kind == events.Notification || e.Kind == events.ConfigChange
			}
			return e.Kind == events.ConfigChange || e.Kind == events.StateChange
		})
	}
	var b bytes.Buffer
	b.WriteString(`<id xmlns="` + nsSN + `">` + strconv.FormatUint(uint64(p.id), 10) + `</id>`)
	if p.replay {
		// After the hub subscription: nothing falls between the two.
		var revised time.Time
		p.replayed, revised = sess.srv.replay.since(replayStart)
		if revised.After(replayStart) {
			b.WriteString(`<replay-start-time-revision xmlns="` + nsSN + `">` + revised.UTC().Format(time.RFC3339Nano) + `</replay-start-time-revision>`)
		}
	}
	return reply{data: b.Bytes(), after: func() { go sess.runPush(p) }}
}

// parseStopTime reads a stop-time, which must be in the future.
func parseStopTime(st *xnode) (time.Time, *rpcError) {
	t, err := time.Parse(time.RFC3339Nano, st.Text)
	if err != nil || !t.After(time.Now()) {
		e := badElement(schema.TagInvalidValue, "stop-time", "stop-time %q is not a date-and-time in the future", st.Text)
		return time.Time{}, e
	}
	return t, nil
}

// parsePeriodic reads yang-push <periodic>: period in centiseconds and
// an optional anchor-time.
func parsePeriodic(per *xnode) (time.Duration, time.Time, *rpcError) {
	cs, err := strconv.ParseUint(textOf(per.child(nsYP, "period")), 10, 32)
	if err != nil || cs == 0 {
		e := badElement(schema.TagInvalidValue, "period", "period %q is not a number of centiseconds above 0", textOf(per.child(nsYP, "period")))
		e.AppTag = "ietf-yang-push:period-unsupported"
		return 0, time.Time{}, e
	}
	var anchor time.Time
	if a := per.child(nsYP, "anchor-time"); a != nil {
		if anchor, err = time.Parse(time.RFC3339Nano, a.Text); err != nil {
			return 0, time.Time{}, badElement(schema.TagInvalidValue, "anchor-time", "anchor-time %q is not a date-and-time", a.Text)
		}
	}
	return time.Duration(cs) * 10 * time.Millisecond, anchor, nil
}

// parseDampening reads the dampening-period of yang-push <on-change>.
func parseDampening(oc *xnode) (time.Duration, *rpcError) {
	d := oc.child(nsYP, "dampening-period")
	if d == nil {
		return 0, nil
	}
	cs, err := strconv.ParseUint(d.Text, 10, 32)
	if err != nil {
		return 0, badElement(schema.TagInvalidValue, "dampening-period", "dampening-period %q is not a number of centiseconds", d.Text)
	}
	return time.Duration(cs) * 10 * time.Millisecond, nil
}

func textOf(x *xnode) string {
	if x == nil {
		return ""
	}
	return strings.TrimSpace(x.Text)
}

// datastoreIdentity reads an ietf-datastores identity.
func datastoreIdentity(d *xnode) (string, *rpcError) {
	prefix, local, ok := strings.Cut(strings.TrimSpace(d.Text), ":")
	if !ok {
		local, prefix = prefix, ""
	}
	if d.NS[prefix] != nsNMDA {
		return "", badElement(schema.TagInvalidValue, "datastore", "datastore %q is not an identity of ietf-datastores", d.Text)
	}
	switch local {
	case "running", "candidate", "startup", "intended", "operational":
		return local, nil
	}
	return "", badElement(schema.TagInvalidValue, "datastore", "no datastore %q", local)
}

// pushFilter reads a subscription's subtree or XPath filter.
func (s *Server) pushFilter(op *xnode, ns, subtree, xp string) (*fnode, string, *rpcError) {
	if f := op.child(ns, subtree); f != nil {
		return s.si.parseSubtreeFilter(f), xnodeXML(f, true), nil
	}
	if f := op.child(ns, xp); f != nil {
		as := &xnode{Name: xml.Name{Space: nsBase, Local: "filter"}, NS: f.NS,
			Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "xpath"}, {Name: xml.Name{Local: "select"}, Value: f.Text}}}
		filter, _, rerr := s.filterOf(&xnode{Children: []*xnode{as}})
		return filter, xnodeXML(f, true), rerr
	}
	return nil, "", nil
}

// deleteSubscription serves <delete-subscription> (own subscriptions)
// and <kill-subscription> (anyone's, administrators only).
func (sess *session) deleteSubscription(op *xnode, kill bool) reply {
	id, err := strconv.ParseUint(textOf(op.child(nsSN, "id")), 10, 32)
	if err != nil {
		return snErr(schema.TagInvalidValue, "id", "ietf-subscribed-notifications:no-such-subscription", "%q is not a subscription id", textOf(op.child(nsSN, "id")))
	}
	v, ok := pushSubs.Load(uint32(id))
	if !ok || (!kill && v.(*pushSub).sess != sess) {
		return snErr(schema.TagInvalidValue, "id", "ietf-subscribed-notifications:no-such-subscription", "this session has no subscription %d", id)
	}
	if kill && sess.core.Role != server.RoleAdmin {
		e := badElement(schema.TagAccessDenied, "kill-subscription", "only administrators may kill subscriptions")
		return reply{errs: []*rpcError{e}}
	}
	p := v.(*pushSub)
	pushSubs.Delete(p.id)
	if kill && p.sess != sess {
		p.sess.write(p.terminated("ietf-subscribed-notifications:no-such-subscription"))
	}
	p.end()
	return reply{}
}

// stopPush ends the subscriptions of a session that ends.
func (sess *session) stopPush() {
	pushSubs.Range(func(k, v any) bool {
		if p := v.(*pushSub); p.sess == sess {
			pushSubs.Delete(k)
			p.end()
		}
		return true
	})
}

func (p *pushSub) envelope(body string) []byte {
	return []byte(`<notification xmlns="` + nsNotif + `"><eventTime>` + time.Now().UTC().Format(time.RFC3339Nano) +
		`</eventTime>` + body + `</notification>`)
}

func (p *pushSub) idElem() string {
	return "<id>" + strconv.FormatUint(uint64(p.id), 10) + "</id>"
}

func (p *pushSub) terminated(reason string) []byte {
	return p.envelope(`<subscription-terminated xmlns="` + nsSN + `">` + p.idElem() +
		`<reason xmlns:sn="` + nsSN + `">sn:` + strings.TrimPrefix(reason, "ietf-subscribed-notifications:") + `</reason></subscription-terminated>`)
}

// runPush sends a subscription's notifications until it ends. It alone
// reads and writes the subscription's terms once it runs: a
// modify-subscription reaches it through p.mods.
func (sess *session) runPush(p *pushSub) {
	hub := p.hub
	defer p.end()
	defer pushSubs.Delete(p.id)
	stopTimer := time.NewTimer(time.Hour)
	stopTimer.Stop()
	defer stopTimer.Stop()
	var stopC <-chan time.Time
	armStop := func() {
		stopTimer.Stop()
		stopC = nil
		if !p.stop.IsZero() {
			stopTimer.Reset(time.Until(p.stop))
			stopC = stopTimer.C
		}
	}
	armStop()
	send := func(msg []byte) bool {
		if msg == nil {
			return true
		}
		if err := sess.write(msg); err != nil {
			return false
		}
		sess.outNotifications.Add(1)
		sess.srv.stats.outNotifications.Add(1)
		return true
	}
	var evC <-chan events.Event
	if hub != nil {
		evC = hub.C
	}
	// Periodic updates, or the state polls of on-change subscriptions.
	var tick <-chan time.Time
	stopTicks := func() {}
	armTicks := func() {
		stopTicks()
		tick, stopTicks = nil, func() {}
		switch {
		case p.period > 0:
			tick, stopTicks = p.periodicTicks()
		case !p.stream && p.ds == "operational":
			t := time.NewTicker(max(p.dampen, pushStatePoll))
			tick, stopTicks = t.C, t.Stop
		}
	}
	armTicks()
	defer func() { stopTicks() }()
	var lastReplayed time.Time
	if p.replay {
		for _, r := range p.replayed {
			if !sess.srv.replayPermitted(sess.core, r.msg) || !sess.srv.replaySelected(r.msg, p.filter) {
				continue
			}
			if !send(r.msg) {
				return
			}
			lastReplayed = r.time
		}
		p.replayed = nil
		if !send(p.envelope(`<replay-completed xmlns="` + nsSN + `">` + p.idElem() + `</replay-completed>`)) {
			return
		}
	}
	if !p.stream && p.period == 0 && p.syncOn {
		if !send(sess.srv.pushUpdate(p)) {
			return
		}
	} else if !p.stream && p.period == 0 {
		p.last = sess.srv.pushSelection(p) // the base of the first change
	}
	var lastChange time.Time
	var damp *time.Timer
	var dampC <-chan time.Time
	defer func() {
		if damp != nil {
			damp.Stop()
		}
	}()
	for {
		select {
		case <-p.done:
			return
		case m := <-p.mods:
			filterChanged := m.apply(p)
			if m.stopSet {
				armStop()
			}
			if m.periodSet || m.dampenSet {
				armTicks()
			}
			if !send(p.envelope(p.modifiedBody())) {
				return
			}
			// An on-change subscription whose selection changed starts
			// again from a whole update of the new selection: a patch
			// against the old one would describe the filter, not the data.
			if filterChanged && !p.stream && p.period == 0 {
				if !send(sess.srv.pushUpdate(p)) {
					return
				}
			}
		case <-stopC:
			send(p.envelope(`<subscription-completed xmlns="` + nsSN + `">` + p.idElem() + `</subscription-completed>`))
			return
		case <-tick:
			var msg []byte
			if p.period > 0 {
				msg = sess.srv.pushUpdate(p)
			} else {
				msg = sess.srv.pushChange(p)
			}
			if !send(msg) {
				return
			}
		case e, ok := <-evC:
			if !ok {
				select {
				case <-p.done: // deleted or killed: the queue closed with it
				default:
					if errors.Is(hub.Err(), server.ErrSlowConsumer) {
						send(p.terminated("ietf-subscribed-notifications:unsupportable-volume"))
					}
				}
				return
			}
			if p.stream {
				if !lastReplayed.IsZero() && !e.Time.After(lastReplayed) {
					continue // already replayed
				}
				if !sess.srv.core.EventPermitted(sess.core, &e) {
					continue // RFC 8341 section 3.4.6
				}
				msg, sel := sess.srv.renderNotification(&e, p.filter)
				if sel && !send(msg) {
					return
				}
				continue
			}
			if wait := p.dampen - time.Since(lastChange); p.dampen > 0 && wait > 0 {
				// Within the dampening period: one update when it
				// ends carries everything that changed meanwhile.
				if dampC == nil {
					damp = time.NewTimer(wait)
					dampC = damp.C
				}
				continue
			}
			lastChange = time.Now()
			if !send(sess.srv.pushChange(p)) {
				return
			}
		case <-dampC:
			dampC = nil
			lastChange = time.Now()
			if !send(sess.srv.pushChange(p)) {
				return
			}
		}
	}
}

// periodicTicks delivers the times of a periodic subscription's updates:
// every period from now, or on the multiples of period from anchor-time.
// A tick is dropped while the previous update is still being sent. The
// function returned stops the ticks.
func (p *pushSub) periodicTicks() (<-chan time.Time, func()) {
	first := time.Now()
	if !p.anchor.IsZero() { // the next multiple of period from the anchor
		first = p.anchor
		if d := time.Since(p.anchor); d > 0 {
			first = p.anchor.Add((d/p.period + 1) * p.period)
		}
	}
	period := p.period
	timer := time.NewTimer(time.Until(first))
	ticks := make(chan time.Time, 1)
	quit := make(chan struct{})
	go func() {
		defer timer.Stop()
		next := first
		for {
			select {
			case <-timer.C:
			case <-p.done:
				return
			case <-quit:
				return
			}
			select {
			case ticks <- next:
			default: // the previous update is still being sent
			}
			next = next.Add(period)
			for !next.After(time.Now()) {
				next = next.Add(period)
			}
			timer.Reset(time.Until(next))
		}
	}()
	var once sync.Once
	return ticks, func() { once.Do(func() { close(quit) }) }
}

// pushSelection renders what a datastore subscription selects, as a
// document whose top-level elements are the selected data.
func (s *Server) pushSelection(p *pushSub) *xnode {
	var trees []*gen.Device
	operational := p.ds == "operational"
	switch p.ds {
	case "running", "intended", "operational":
		trees = []*gen.Device{s.core.Running()}
	default:
		cfg, err := s.core.Config(server.Datastore(p.ds))
		if err != nil {
			return nil
		}
		trees = []*gen.Device{cfg}
	}
	if operational {
		var paths []*gpb.Path
		if p.filter == nil || p.filter.xp == nil {
			paths = filterPaths(p.filter)
		}
		if st, err := s.core.State(paths); err == nil {
			trees = append(trees, st)
		}
	}
	var body bytes.Buffer
	body.WriteString("<data>")
	enc := &xmlEncoder{si: s.si, b: &body, configOnly: !operational}
	switch {
	case p.filter != nil && p.filter.xp != nil:
		var all bytes.Buffer
		all.WriteString("<data>")
		(&xmlEncoder{si: s.si, b: &all, configOnly: !operational}).encodeData(trees, nil)
		all.WriteString("</data>")
		doc, err := parseXML(all.Bytes())
		if err != nil || s.si.xpathSelect(&body, doc, p.filter.xp) != nil {
			return nil
		}
	case p.filter == nil || len(p.filter.children) > 0:
		enc.encodeData(trees, p.filter)
	}
	body.WriteString("</data>")
	doc, err := parseXML(body.Bytes())
	if err != nil {
		return nil
	}
	return doc
}

// pushUpdate is a push-update with the whole selection.
func (s *Server) pushUpdate(p *pushSub) []byte {
	doc := s.pushSelection(p)
	if doc == nil {
		return nil
	}
	p.last = doc
	var b bytes.Buffer
	b.WriteString(`<push-update xmlns="` + nsYP + `">` + p.idElem() + `<datastore-contents>`)
	w := &selWriter{si: s.si, b: &b, doc: doc, selected: map[*xnode]bool{}}
	for _, c := range doc.Children {
		w.selected[c] = true
	}
	w.write()
	b.WriteString(`</datastore-contents></push-update>`)
	return p.envelope(b.String())
}

// pushChange is a push-change-update with what changed in the selection
// since the last update, or nil when nothing did.
func (s *Server) pushChange(p *pushSub) []byte {
	doc := s.pushSelection(p)
	if doc == nil {
		return nil
	}
	old := p.last
	p.last = doc
	if old == nil {
		old = &xnode{}
	}
	var edits bytes.Buffer
	n := 0
	s.diffXML(&edits, &n, old, doc, old, doc, "")
	if n == 0 {
		return nil
	}
	p.patchSeq++
	var b bytes.Buffer
	b.WriteString(`<push-change-update xmlns="` + nsYP + `">` + p.idElem() + `<datastore-changes><yang-patch xmlns="` + nsPatch + `"><patch-id>`)
	b.WriteString("s" + strconv.FormatUint(uint64(p.id), 10) + "-" + strconv.Itoa(p.patchSeq))
	b.WriteString("</patch-id>")
	b.Write(edits.Bytes())
	b.WriteString(`</yang-patch></datastore-changes></push-change-update>`)
	return p.envelope(b.String())
}

// diffXML writes the yang-patch edits that turn the children of a (in
// document adoc) into those of b (in bdoc); path is the RESTCONF-style
// target of a and b.
func (s *Server) diffXML(out *bytes.Buffer, n *int, a, b, adoc, bdoc *xnode, path string) {
	key := func(x, doc *xnode) string {
		k := x.Name.Space + " " + x.Name.Local
		keys := s.si.listKeysOf(x, doc)
		if len(keys) == 0 && len(x.Children) == 0 && s.isLeafList(x, doc) {
			return k + "=" + x.Text
		}
		for _, kn := range keys {
			k += "=" + textOf(x.child(x.Name.Space, kn))
		}
		return k
	}
	olds := map[string]*xnode{}
	for _, c := range a.Children {
		olds[key(c, adoc)] = c
	}
	seen := map[string]bool{}
	for _, c := range b.Children {
		k := key(c, bdoc)
		seen[k] = true
		target := path + s.targetStep(c, b, bdoc)
		o := olds[k]
		switch {
		case o == nil:
			s.writeEdit(out, n, "create", target, c, b, bdoc)
		case len(c.Children) == 0 && len(o.Children) == 0:
			if c.Text != o.Text {
				s.writeEdit(out, n, "replace", target, c, b, bdoc)
			}
		default:
			s.diffXML(out, n, o, c, adoc, bdoc, target)
		}
	}
	for _, c := range a.Children {
		if k := key(c, adoc); !seen[k] {
			s.writeEdit(out, n, "delete", path+s.targetStep(c, a, adoc), nil, nil, nil)
		}
	}
}

// isLeafList reports whether element x is a leaf-list value.
func (s *Server) isLeafList(x, doc *xnode) bool {
	var names []string
	for m := x; m != nil && m != doc; m = m.Parent {
		names = append(names, m.Name.Local)
	}
	e := s.si.root
	for i := len(names) - 1; i >= 0 && e != nil; i-- {
		e = e.Dir[names[i]]
	}
	return e != nil && e.IsLeafList()
}

// targetStep is the RESTCONF data-resource-identifier step of x (RFC
// 8040 section 3.5.3): module-qualified where its module differs from the
// parent's, list keys after "=", comma-separated and percent-encoded.
func (s *Server) targetStep(x, parent, doc *xnode) string {
	step := "/"
	if parent == doc || parent.Name.Space != x.Name.Space {
		step += s.moduleOfNS(x.Name.Space) + ":"
	}
	step += x.Name.Local
	if keys := s.si.listKeysOf(x, doc); len(keys) > 0 {
		vals := make([]string, len(keys))
		for i, k := range keys {
			vals[i] = url.PathEscape(textOf(x.child(x.Name.Space, k)))
			vals[i] = strings.ReplaceAll(vals[i], ",", "%2C")
		}
		step += "=" + strings.Join(vals, ",")
	} else if s.isLeafList(x, doc) {
		step += "=" + url.PathEscape(x.Text)
	}
	return step
}

func (s *Server) moduleOfNS(ns string) string {
	for _, m := range s.si.library {
		if m.Namespace == ns {
			return m.Name
		}
	}
	return ns
}

func (s *Server) writeEdit(out *bytes.Buffer, n *int, op, target string, value, parent, doc *xnode) {
	*n++
	out.WriteString("<edit><edit-id>edit" + strconv.Itoa(*n) + "</edit-id><operation>" + op + "</operation><target>")
	xmlEscape(out, target)
	out.WriteString("</target>")
	if value != nil {
		out.WriteString("<value>")
		w := &selWriter{si: s.si, b: out, doc: doc, selected: map[*xnode]bool{value: true}}
		// Write value alone, with its namespace declared.
		w.node(value, &xnode{}, nil, nil, -1)
		out.WriteString("</value>")
	}
	out.WriteString("</edit>")
}
