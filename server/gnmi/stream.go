package gnmi

import (
	"io"
	"sync/atomic"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// stream serves a STREAM subscription: the initial dump, sync_response,
// then ON_CHANGE updates from the event hub and SAMPLE and heartbeat
// updates from one timer.
//
// The RPC's goroutine produces notifications into a bounded queue that a
// second goroutine alone sends; a subscriber that lets the queue fill is
// cut off with RESOURCE_EXHAUSTED, so neither the hub, nor the engines
// publishing to it, nor other subscribers ever wait for it.
func (s *subscription) stream(stream gpb.GNMI_SubscribeServer) error {
	ctx := stream.Context()
	var evC <-chan events.Event
	var hubSub *server.Subscription
	for _, e := range s.entries {
		if e.onChange() {
			// Subscribed before the dump: a change during the dump is
			// sent again rather than lost.
			hubSub = s.g.srv.Hub().Subscribe(s.g.opts.QueueLen, s.wants)
			defer hubSub.Close()
			evC = hubSub.C
			break
		}
	}

	// The queue is bounded in entries (QueueLen) and in bytes
	// (Limits.QueueBytes): a SAMPLE of a large subtree makes few entries
	// of many bytes.
	out := make(chan *gpb.SubscribeResponse, s.g.opts.QueueLen)
	maxBytes := int64(s.g.lim.QueueBytes)
	var queued atomic.Int64
	room := make(chan struct{}, 1) // a send made room
	sendErr := make(chan error, 1)
	go func() {
		for r := range out {
			err := stream.Send(r)
			queued.Add(-int64(proto.Size(r)))
			select {
			case room <- struct{}{}:
			default:
			}
			if err != nil {
				sendErr <- err
				return
			}
		}
	}()
	defer close(out)
	// wait queues a response, waiting for room: the dump, which may be
	// larger than the queue.
	wait := func(r *gpb.SubscribeResponse) error {
		size := int64(proto.Size(r))
		for queued.Load() > 0 && queued.Load()+size > maxBytes {
			select {
			case <-room:
			case err := <-sendErr:
				return err
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
		}
		queued.Add(size)
		select {
		case out <- r:
			return nil
		case err := <-sendErr:
			return err
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	// queue queues a response of the running stream, never waiting.
	queue := func(r *gpb.SubscribeResponse) error {
		size := int64(proto.Size(r))
		if q := queued.Load(); q > 0 && q+size > maxBytes {
			s.g.log.Warn("subscriber cut off: too slow", "queued", len(out), "bytes", q)
			return status.Errorf(codes.ResourceExhausted, "subscriber too slow: %d bytes queued and unsent (limit %d); subscription cut off, resubscribe", q, maxBytes)
		}
		queued.Add(size)
		select {
		case out <- r:
			return nil
		default:
			queued.Add(-size)
			s.g.log.Warn("subscriber cut off: too slow", "queued", len(out))
			return errSlow(len(out))
		}
	}

	start := time.Now()
	if s.list.UpdatesOnly {
		// What the state polls compare against, not sent.
		if _, err := s.dump(s.entries, true); err != nil {
			return err
		}
		for _, e := range s.entries {
			e.last = nil // the next sample is an update (3.5.1.2)
		}
	} else {
		notes, err := s.dump(s.entries, true)
		if err != nil {
			return err
		}
		for _, n := range notes {
			if err := wait(update(n)); err != nil {
				return err
			}
		}
	}
	if err := wait(syncResponse()); err != nil {
		return err
	}

	for _, e := range s.entries {
		if e.sample > 0 {
			e.nextSample = start.Add(e.sample)
		}
		if e.heartbeat > 0 {
			e.nextBeat = start.Add(e.heartbeat)
		}
		if e.poll > 0 {
			e.nextPoll = start.Add(e.poll)
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	s.arm(timer)

	recvErr := make(chan error, 1)
	go s.receive(stream, recvErr)

	for {
		select {
		case ev, ok := <-evC:
			if !ok {
				return hubGone(hubSub.Err())
			}
			for _, n := range s.onEvent(ev) {
				if err := queue(update(n)); err != nil {
					return err
				}
			}
		case now := <-timer.C:
			notes, err := s.tick(now)
			if err != nil {
				return err
			}
			for _, n := range notes {
				if err := queue(update(n)); err != nil {
					return err
				}
			}
			s.arm(timer)
		case err := <-recvErr:
			if err == io.EOF { // the client closed its side; keep streaming
				recvErr = nil
				continue
			}
			return err
		case err := <-sendErr:
			return err
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// receive reads what the client sends after the subscription list: on a
// STREAM subscription nothing more is allowed (3.5.1.1).
func (s *subscription) receive(stream gpb.GNMI_SubscribeServer, errc chan<- error) {
	req, err := stream.Recv()
	switch {
	case err != nil:
		errc <- err
	case req.GetSubscribe() != nil:
		errc <- status.Error(codes.InvalidArgument, "a subscription list was already given on this RPC; open another Subscribe RPC")
	case req.GetPoll() != nil:
		errc <- status.Error(codes.InvalidArgument, "poll on a STREAM subscription")
	default:
		errc <- status.Error(codes.Unimplemented, "aliases are not supported")
	}
}

// arm sets the timer to the next sample or heartbeat due.
func (s *subscription) arm(t *time.Timer) {
	var next time.Time
	for _, e := range s.entries {
		for _, d := range []time.Time{e.nextSample, e.nextBeat, e.nextPoll} {
			if !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next = d
			}
		}
	}
	if next.IsZero() {
		return
	}
	t.Reset(time.Until(next))
}

// tick samples the entries due and sends heartbeats.
func (s *subscription) tick(now time.Time) ([]*gpb.Notification, error) {
	var due []*subEntry
	for _, e := range s.entries {
		if (!e.nextSample.IsZero() && !now.Before(e.nextSample)) || (!e.nextBeat.IsZero() && !now.Before(e.nextBeat)) ||
			(!e.nextPoll.IsZero() && !now.Before(e.nextPoll)) {
			due = append(due, e)
		}
	}
	if len(due) == 0 {
		return nil, nil
	}
	// Polls of state alone need only the state: the configuration
	// changes come with commit events.
	full := false
	for _, e := range due {
		full = full || (!e.nextSample.IsZero() && !now.Before(e.nextSample)) || (!e.nextBeat.IsZero() && !now.Before(e.nextBeat))
	}
	var view *gen.Device
	var err error
	if full {
		view, err = s.view(due)
	} else {
		view, err = s.stateView(due)
	}
	if err != nil {
		return nil, err
	}
	stamp := now.UnixNano()
	var out []*gpb.Notification
	for _, e := range due {
		beat := !e.nextBeat.IsZero() && !now.Before(e.nextBeat)
		sample := !e.nextSample.IsZero() && !now.Before(e.nextSample)
		if !e.nextPoll.IsZero() && !now.Before(e.nextPoll) {
			e.nextPoll = next(e.nextPoll, e.poll, now)
			if !beat { // a heartbeat below sends everything anyway
				leaves, err := s.leaves(view, e, false)
				if err != nil {
					return nil, err
				}
				out = s.appendNotes(out, stamp, e.pollDiff(leaves), nil)
			}
		}
		if beat {
			e.nextBeat = next(e.nextBeat, e.heartbeat, now)
		}
		if sample {
			e.nextSample = next(e.nextSample, e.sample, now)
		}
		switch {
		case sample || (beat && e.sample > 0):
			leaves, err := s.leaves(view, e, e.countersOnly())
			if err != nil {
				return nil, err
			}
			send, gone := e.diff(leaves, beat || !e.suppress)
			out = s.appendNotes(out, stamp, send, gone)
		case beat: // ON_CHANGE heartbeat: everything again
			leaves, err := s.leaves(view, e, false)
			if err != nil {
				return nil, err
			}
			out = s.appendNotes(out, stamp, leaves, nil)
		}
	}
	return out, nil
}

// next is the first multiple of interval after now, counted from prev,
// so that a late timer does not shift every later sample.
func next(prev time.Time, interval time.Duration, now time.Time) time.Time {
	n := prev.Add(interval)
	if !n.After(now) {
		n = now.Add(interval - now.Sub(prev)%interval)
	}
	return n
}

// notePolled records a value an event sent, so that the next poll does
// not send it again.
func (s *subscription) notePolled(elems []*gpb.PathElem, val *gpb.TypedValue) {
	key := schema.PathString(&gpb.Path{Elem: elems})
	for _, e := range s.entries {
		if e.polled != nil {
			if l, ok := e.polled[key]; ok {
				l.val = val
				e.polled[key] = l
			}
		}
	}
}

// pollDiff returns the polled state leaves whose value changed since the
// last poll (or event-free dump), and remembers them. A leaf that went
// away is not reported here: its deletion comes with the commit or the
// engine event that removed it.
func (e *subEntry) pollDiff(leaves []leafVal) []leafVal {
	var send []leafVal
	cur := make(map[string]leafVal, len(e.polled))
	for _, l := range leaves {
		if !e.polls(l) {
			continue
		}
		key := schema.PathString(&gpb.Path{Elem: l.path})
		cur[key] = l
		if prev, ok := e.polled[key]; !ok || !proto.Equal(prev.val, l.val) {
			send = append(send, l)
		}
	}
	e.polled = cur
	return send
}

// diff compares a sample with what was last sent: it returns the leaves
// to send (all of them, or with suppress_redundant only those that
// changed) and the leaves that went away, and remembers the sample.
func (e *subEntry) diff(leaves []leafVal, all bool) (send []leafVal, gone [][]*gpb.PathElem) {
	cur := make(map[string]leafVal, len(leaves))
	for _, l := range leaves {
		key := schema.PathString(&gpb.Path{Elem: l.path})
		cur[key] = l
		if prev, ok := e.last[key]; all || !ok || !proto.Equal(prev.val, l.val) {
			send = append(send, l)
		}
	}
	for key, l := range e.last {
		if _, ok := cur[key]; !ok {
			gone = append(gone, l.path)
		}
	}
	e.last = cur
	return send, gone
}

// wants selects, on the publisher's goroutine, the events that may concern
// the ON_CHANGE entries: cheap, it compares paths only.
func (s *subscription) wants(ev *events.Event) bool {
	switch ev.Kind {
	case events.ConfigChange:
		return true
	case events.Notification, events.StateChange:
		for _, u := range ev.Updates {
			for _, e := range s.entries {
				if e.onChange() && related(e.elems, u.Path.GetElem()) {
					return true
				}
			}
		}
	}
	return false
}

// onEvent turns an event into the notifications the ON_CHANGE entries
// need: for a commit, the leaves under each created or changed node read
// from running and a delete for each removed node; for state, the
// engine's updates and deletes as they are.
func (s *subscription) onEvent(ev events.Event) []*gpb.Notification {
	stamp := ev.Time.UnixNano()
	if ev.Kind == events.ConfigChange {
		return s.onCommit(ev.Commit, stamp)
	}
	n := &gpb.Notification{Timestamp: stamp, Prefix: s.prefix}
	for _, u := range ev.Updates {
		elems := u.Path.GetElem()
		if !s.g.srv.ReadPermitted(s.sess, elems) {
			continue // NACM: not this subscriber's to read
		}
	entries:
		for _, e := range s.entries {
			if !e.onChange() {
				continue
			}
			switch {
			case u.Value == nil && related(e.elems, elems):
				n.Delete = append(n.Delete, u.Path)
			case u.Value != nil && covers(e.elems, elems):
				val := s.encodeEvent(elems, u.Value)
				n.Update = append(n.Update, &gpb.Update{Path: u.Path, Val: val})
				s.notePolled(elems, val)
			default:
				continue
			}
			break entries // once per update, however many entries select it
		}
	}
	if len(n.Update) == 0 && len(n.Delete) == 0 {
		return nil
	}
	return []*gpb.Notification{n}
}

func (s *subscription) onCommit(c *events.Commit, stamp int64) []*gpb.Notification {
	if c == nil {
		return nil
	}
	// What the subscriber may read of running (NACM), as Get would show.
	running := s.g.srv.Readable(s.sess, s.g.srv.Running())
	var leaves []leafVal
	var gone [][]*gpb.PathElem
	seen := map[string]bool{}
	add := func(ls []leafVal) {
		for _, l := range ls {
			key := schema.PathString(&gpb.Path{Elem: l.path})
			if !seen[key] {
				seen[key] = true
				leaves = append(leaves, l)
			}
		}
	}
	for _, e := range s.entries {
		if !e.onChange() {
			continue
		}
		if c.Truncated { // the edits are a summary: send all again
			ls, err := s.leaves(running, e, false)
			if err == nil {
				add(ls)
			}
			continue
		}
		for _, ed := range c.Edits {
			elems := ed.Path.GetElem()
			if ed.Operation == schema.OpDelete {
				if !s.g.srv.ReadPermitted(s.sess, elems) {
					continue
				}
				if related(e.elems, elems) && !seen["-"+schema.PathString(ed.Path)] {
					seen["-"+schema.PathString(ed.Path)] = true
					gone = append(gone, elems)
				}
				continue
			}
			switch {
			case covers(e.elems, elems):
				ls, err := s.leaves(running, &subEntry{elems: elems}, false)
				if err == nil {
					add(ls)
				}
			case under(e.elems, elems):
				ls, err := s.leaves(running, e, false)
				if err != nil {
					continue
				}
				var below []leafVal
				for _, l := range ls {
					if hasPrefix(l.path, elems) {
						below = append(below, l)
					}
				}
				add(below)
			}
		}
	}
	return s.appendNotes(nil, stamp, leaves, gone)
}
