package netconf

import (
	"bytes"
	"sort"
	"strconv"
	"time"

	"github.com/wirebeat/wirebeat/schema"
)

// modify-subscription (RFC 8639 section 2.4.3, RFC 8641 section 4.4.2):
// a session changes the filter, the stop-time, the period (and anchor) or
// the dampening period of one of its own dynamic subscriptions. The
// request is checked whole before anything changes; the subscription's
// goroutine then applies it between two notifications and sends
// subscription-modified with the terms now in force, so that everything
// after that notification follows them. The kind of a subscription (its
// stream or datastore, periodic or on-change) is part of what the client
// established and cannot be modified: that is a new subscription.

// pushMod is a checked modify-subscription.
type pushMod struct {
	filterSet bool
	filter    *fnode
	filterXML string
	stopSet   bool
	stop      time.Time
	periodSet bool
	period    time.Duration
	anchor    time.Time
	dampenSet bool
	dampen    time.Duration
}

// modifySubscription serves <modify-subscription>.
func (sess *session) modifySubscription(op *xnode) reply {
	id, err := strconv.ParseUint(textOf(op.child(nsSN, "id")), 10, 32)
	if err != nil {
		return snErr(schema.TagInvalidValue, "id", "ietf-subscribed-notifications:no-such-subscription", "%q is not a subscription id", textOf(op.child(nsSN, "id")))
	}
	v, ok := pushSubs.Load(uint32(id))
	if !ok || v.(*pushSub).sess != sess {
		return snErr(schema.TagInvalidValue, "id", "ietf-subscribed-notifications:no-such-subscription", "this session has no subscription %d", id)
	}
	p := v.(*pushSub)
	m := &pushMod{}
	var rerr *rpcError
	if p.stream {
		if op.child(nsYP, "datastore") != nil || op.child(nsYP, "periodic") != nil || op.child(nsYP, "on-change") != nil {
			return snErr(schema.TagInvalidValue, "datastore", "", "subscription %d is to the event stream: its target cannot become a datastore", p.id)
		}
		if op.child(nsYP, "datastore-subtree-filter") != nil || op.child(nsYP, "datastore-xpath-filter") != nil {
			return snErr(schema.TagInvalidValue, "datastore-subtree-filter", "", "subscription %d is to the event stream: give a stream filter", p.id)
		}
		if m.filter, m.filterXML, rerr = sess.srv.pushFilter(op, nsSN, "stream-subtree-filter", "stream-xpath-filter"); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
	} else {
		if d := op.child(nsYP, "datastore"); d != nil {
			ds, rerr := datastoreIdentity(d)
			if rerr != nil {
				return reply{errs: []*rpcError{rerr}}
			}
			if ds != p.ds {
				return snErr(schema.TagInvalidValue, "datastore", "", "subscription %d is to datastore %s: establish another subscription for %s", p.id, p.ds, ds)
			}
		}
		if op.child(nsSN, "stream-subtree-filter") != nil || op.child(nsSN, "stream-xpath-filter") != nil {
			return snErr(schema.TagInvalidValue, "stream-subtree-filter", "", "subscription %d is to a datastore: give a datastore filter", p.id)
		}
		if m.filter, m.filterXML, rerr = sess.srv.pushFilter(op, nsYP, "datastore-subtree-filter", "datastore-xpath-filter"); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
		per, oc := op.child(nsYP, "periodic"), op.child(nsYP, "on-change")
		switch {
		case per != nil && p.period == 0:
			return snErr(schema.TagInvalidValue, "periodic", "", "subscription %d is on-change: it cannot become periodic", p.id)
		case oc != nil && p.period > 0:
			return snErr(schema.TagInvalidValue, "on-change", "", "subscription %d is periodic: it cannot become on-change", p.id)
		case per != nil:
			if m.period, m.anchor, rerr = parsePeriodic(per); rerr != nil {
				return reply{errs: []*rpcError{rerr}}
			}
			m.periodSet = true
		case oc != nil:
			if oc.child(nsYP, "excluded-change") != nil {
				return snErr(schema.TagOperationNotSupp, "excluded-change", "", "excluded-change is not supported")
			}
			if m.dampen, rerr = parseDampening(oc); rerr != nil {
				return reply{errs: []*rpcError{rerr}}
			}
			m.dampenSet = oc.child(nsYP, "dampening-period") != nil
		}
	}
	m.filterSet = m.filterXML != ""
	if st := op.child(nsSN, "stop-time"); st != nil {
		if m.stop, rerr = parseStopTime(st); rerr != nil {
			return reply{errs: []*rpcError{rerr}}
		}
		m.stopSet = true
	}
	if !m.filterSet && !m.stopSet && !m.periodSet && !m.dampenSet {
		return snErr(schema.TagMissingElement, "modify-subscription", "", "nothing to modify: give a filter, a stop-time, a period or a dampening-period")
	}
	// The reply goes first; the subscription's goroutine takes the change
	// at its next turn, or never if the subscription has ended since.
	return reply{after: func() {
		select {
		case p.mods <- m:
		case <-p.done:
		}
	}}
}

// apply puts the new terms into p and reports whether the selection
// changed. Only runPush calls it.
func (m *pushMod) apply(p *pushSub) (filterChanged bool) {
	if m.filterSet {
		p.filter, p.filterXML, filterChanged = m.filter, m.filterXML, true
	}
	if m.stopSet {
		p.stop = m.stop
	}
	if m.periodSet {
		p.period, p.anchor = m.period, m.anchor
	}
	if m.dampenSet {
		p.dampen = m.dampen
	}
	return filterChanged
}

// modifiedBody is the subscription-modified notification: the
// subscription's terms in force, modified and not.
func (p *pushSub) modifiedBody() string {
	var b bytes.Buffer
	b.WriteString(`<subscription-modified xmlns="` + nsSN + `">` + p.idElem())
	if p.stream {
		b.WriteString("<stream>NETCONF</stream>")
		b.WriteString(p.filterXML)
	} else {
		b.WriteString(`<datastore xmlns="` + nsYP + `" xmlns:ds="` + nsNMDA + `">ds:` + p.ds + `</datastore>`)
		b.WriteString(p.filterXML)
	}
	if !p.stop.IsZero() {
		b.WriteString("<stop-time>" + p.stop.UTC().Format(time.RFC3339Nano) + "</stop-time>")
	}
	b.WriteString("<encoding>encode-xml</encoding>")
	switch {
	case p.stream:
	case p.period > 0:
		b.WriteString(`<periodic xmlns="` + nsYP + `"><period>` + strconv.FormatInt(int64(p.period/(10*time.Millisecond)), 10) + `</period>`)
		if !p.anchor.IsZero() {
			b.WriteString("<anchor-time>" + p.anchor.UTC().Format(time.RFC3339Nano) + "</anchor-time>")
		}
		b.WriteString("</periodic>")
	default:
		b.WriteString(`<on-change xmlns="` + nsYP + `"><dampening-period>` + strconv.FormatInt(int64(p.dampen/(10*time.Millisecond)), 10) + `</dampening-period></on-change>`)
	}
	b.WriteString("</subscription-modified>")
	return b.String()
}

// xnodeXML writes an element as XML with its namespace as the default,
// and, at the top when decl, the prefixes in scope (an XPath filter's
// text uses them).
func xnodeXML(x *xnode, decl bool) string {
	var b bytes.Buffer
	writeXnode(&b, x, "", decl)
	return b.String()
}

func writeXnode(b *bytes.Buffer, x *xnode, parentNS string, decl bool) {
	b.WriteString("<" + x.Name.Local)
	if x.Name.Space != parentNS {
		b.WriteString(` xmlns="`)
		xmlEscape(b, x.Name.Space)
		b.WriteString(`"`)
	}
	if decl {
		prefixes := make([]string, 0, len(x.NS))
		for p := range x.NS {
			if p != "" {
				prefixes = append(prefixes, p)
			}
		}
		sort.Strings(prefixes)
		for _, p := range prefixes {
			b.WriteString(" xmlns:" + p + `="`)
			xmlEscape(b, x.NS[p])
			b.WriteString(`"`)
		}
	}
	for _, a := range x.Attr {
		if a.Name.Space != "" {
			continue
		}
		b.WriteString(" " + a.Name.Local + `="`)
		xmlEscape(b, a.Value)
		b.WriteString(`"`)
	}
	b.WriteString(">")
	xmlEscape(b, x.Text)
	for _, c := range x.Children {
		writeXnode(b, c, x.Name.Space, false)
	}
	b.WriteString("</" + x.Name.Local + ">")
}
