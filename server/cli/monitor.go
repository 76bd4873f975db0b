package cli

import (
	"fmt"
	"reflect"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	sch "github.com/wirebeat/wirebeat/schema"
)

// monitorQueue bounds the events a monitor holds; a terminal that cannot
// keep up is cut off by the hub, never makes an engine wait.
const monitorQueue = 4096

// monitor is monitor PATH: the changes of a subtree from the event hub,
// one line each with its time, until Ctrl-C (gNMI ON_CHANGE: commits of
// configuration under PATH and state updates under it).
func (sess *session) monitor(verbTok token, args []token, sink lineSink) error {
	if err := sess.srv.core.Exec(sess.core, "notifications", "create-subscription"); err != nil {
		return err
	}
	var elems []*gpb.PathElem
	if len(args) > 0 {
		p, err := parsePath(rootSchema(), nil, args, pathMode{state: true})
		if err != nil {
			return err
		}
		if p.at == atList && p.keys > 0 {
			return &cmdError{pos: endPos(args), msg: p.missing(pathMode{})}
		}
		elems = p.elems
	}
	// NACM read rules decide per line, as for a gNMI subscriber: a
	// change to a node the user may not read is not shown.
	readable := func(p *gpb.Path) bool { return sess.srv.core.ReadPermitted(sess.core, p.GetElem()) }
	sub := sess.srv.core.Hub().Subscribe(monitorQueue, func(e *events.Event) bool {
		return eventShown(e, elems, readable)
	})
	defer sub.Close()
	what := "/"
	if len(elems) > 0 {
		what = strings.Join(cliWords(rootSchema(), elems), " ")
	}
	if err := sink.line(fmt.Sprintf("monitoring %s; Ctrl-C stops", what)); err != nil {
		return err
	}
	flush := func() {}
	if o, ok := sink.(*filterSink); ok {
		if os, ok := o.next.(*outSink); ok {
			os.pager = false
			flush = func() { os.bw.Flush() }
		}
	}
	flush()
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				if err := sub.Err(); err != nil {
					return fmt.Errorf("monitor ended: %w", err)
				}
				return nil
			}
			for _, l := range eventLines(&e, elems, sess.srv.core.Running(), readable) {
				if err := sink.line(l); err != nil {
					return err
				}
			}
			flush()
		case <-sess.intr:
			return nil
		case <-sess.closed:
			return errStop
		}
	}
}

// under reports whether p is at or below the path prefix (keys of the
// prefix must match; absent keys match any).
func under(p *gpb.Path, prefix []*gpb.PathElem) bool {
	el := p.GetElem()
	if len(el) < len(prefix) {
		return false
	}
	for i, pe := range prefix {
		if el[i].Name != pe.Name {
			return false
		}
		for k, v := range pe.Key {
			if el[i].Key[k] != v && canonical(el[i].Key[k]) != canonical(v) {
				return false
			}
		}
	}
	return true
}

// eventShown reports whether eventLines would give e any line, without
// rendering: the hub asks it for every event.
func eventShown(e *events.Event, elems []*gpb.PathElem, readable func(*gpb.Path) bool) bool {
	for _, u := range e.Updates {
		if under(u.Path, elems) && readable(u.Path) {
			return true
		}
	}
	if e.Commit != nil {
		for _, ed := range e.Commit.Edits {
			if editShown(ed.Path, elems, readable) {
				return true
			}
		}
	}
	return false
}

// editShown: a commit's edit is shown when it is under the monitored path
// or contains it, and readable allows its node.
func editShown(p *gpb.Path, elems []*gpb.PathElem, readable func(*gpb.Path) bool) bool {
	return (under(p, elems) || under(&gpb.Path{Elem: elems}, p.GetElem())) && readable(p)
}

// eventLines renders an event as lines: one per update or edit under the
// monitored path that readable allows; a leaf a commit set is shown with
// its value in running.
func eventLines(e *events.Event, elems []*gpb.PathElem, running *gen.Device, readable func(*gpb.Path) bool) []string {
	ts := e.Time.UTC().Format("2006-01-02 15:04:05.000")
	var out []string
	for _, u := range e.Updates {
		if !under(u.Path, elems) || !readable(u.Path) {
			continue
		}
		val := "(deleted)"
		if u.Value != nil {
			val = typedText(u.Value)
		}
		out = append(out, fmt.Sprintf("%s %s %s", ts, sch.PathString(u.Path), val))
	}
	if c := e.Commit; c != nil {
		for _, ed := range c.Edits {
			if editShown(ed.Path, elems, readable) {
				l := fmt.Sprintf("%s commit %d by %s via %s: %s %s", ts, c.ID, c.User, c.Transport, ed.Operation, sch.PathString(ed.Path))
				if ed.Operation != sch.OpDelete {
					if v := nodeOf(running, ed.Path.GetElem()); isLeafValue(v) {
						if vals := sch.LeafTexts(v); len(vals) > 0 {
							l += " " + strings.Join(vals, " ")
						}
					}
				}
				out = append(out, l)
			}
		}
	}
	return out
}

// isLeafValue tells a leaf's field value from a list entry, a container
// or a list.
func isLeafValue(v reflect.Value) bool {
	if !v.IsValid() || v.Kind() == reflect.Map {
		return false
	}
	return !(v.Kind() == reflect.Ptr && v.Elem().Kind() == reflect.Struct)
}

// typedText is a gNMI value as a person reads it.
func typedText(v *gpb.TypedValue) string {
	switch x := v.Value.(type) {
	case *gpb.TypedValue_StringVal:
		return x.StringVal
	case *gpb.TypedValue_IntVal:
		return fmt.Sprint(x.IntVal)
	case *gpb.TypedValue_UintVal:
		return fmt.Sprint(x.UintVal)
	case *gpb.TypedValue_BoolVal:
		return fmt.Sprint(x.BoolVal)
	case *gpb.TypedValue_JsonIetfVal:
		return string(x.JsonIetfVal)
	case *gpb.TypedValue_JsonVal:
		return string(x.JsonVal)
	}
	return strings.TrimSpace(prototext.Format(v))
}
