package gnmi

import (
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// bundle bounds the updates of one notification of a dump, so that a
// subscription to 100,000 bindings is not one message of hundreds of MB.
const bundle = 512

// subscription is one Subscribe RPC's SubscriptionList, checked.
type subscription struct {
	g       *Server
	list    *gpb.SubscriptionList
	prefix  *gpb.Path // of responses: only the target, echoed (2.2.2.1)
	entries []*subEntry
	models  modelSet
	sess    *server.Session // reads are what this session may read
}

// subEntry is one Subscription of the list.
type subEntry struct {
	elems     []*gpb.PathElem
	mode      gpb.SubscriptionMode
	sample    time.Duration // SAMPLE, and the counters of TARGET_DEFINED
	heartbeat time.Duration
	suppress  bool
	// last is what sampling last sent, by path text: for
	// suppress_redundant and to notice leaves that went away.
	last       map[string]leafVal
	nextSample time.Time
	nextBeat   time.Time
	// poll is how often the state leaves an ON_CHANGE (or, for its
	// non-counters, a TARGET_DEFINED) entry selects are read to find the
	// changes no event announces: counters, clocks. polled is what that
	// last sent.
	poll     time.Duration
	nextPoll time.Time
	polled   map[string]leafVal
}

// OnChangeStateInterval bounds how often a changing state leaf (a
// counter, current-datetime) is reported under ON_CHANGE: changes are
// coalesced to at most one update per leaf per interval.
const OnChangeStateInterval = 500 * time.Millisecond

// polls reports whether an ON_CHANGE poll of e covers leaf l: state
// leaves, except the counters TARGET_DEFINED samples.
func (e *subEntry) polls(l leafVal) bool {
	return !l.config && !(e.countersOnly() && l.counter)
}

// onChange reports whether events drive the entry.
func (e *subEntry) onChange() bool {
	return e.mode == gpb.SubscriptionMode_ON_CHANGE || e.mode == gpb.SubscriptionMode_TARGET_DEFINED
}

// countersOnly reports whether sampling covers only counters: under
// TARGET_DEFINED, states and configuration go ON_CHANGE.
func (e *subEntry) countersOnly() bool { return e.mode == gpb.SubscriptionMode_TARGET_DEFINED }

type leafVal struct {
	path    []*gpb.PathElem
	val     *gpb.TypedValue
	counter bool
	config  bool
}

// Subscribe serves ONCE, POLL and STREAM subscriptions (specification
// 3.5).
func (g *Server) Subscribe(stream gpb.GNMI_SubscribeServer) error {
	req, err := stream.Recv()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	list := req.GetSubscribe()
	if list == nil {
		return status.Error(codes.InvalidArgument, "the first SubscribeRequest must carry a subscription list; poll or aliases on a non-existent subscription is out of order")
	}
	s, err := g.newSubscription(list)
	if err != nil {
		return err
	}
	s.sess = sessionOf(stream.Context())
	// NACM decides a Subscribe as it decides establish-subscription.
	if err := g.srv.Exec(s.sess, "ietf-subscribed-notifications", "establish-subscription"); err != nil {
		return statusOf(err)
	}
	switch list.Mode {
	case gpb.SubscriptionList_ONCE:
		if err := s.sendDump(stream); err != nil {
			return err
		}
		return nil
	case gpb.SubscriptionList_POLL:
		return s.poll(stream)
	default:
		return s.stream(stream)
	}
}

func (g *Server) newSubscription(list *gpb.SubscriptionList) (*subscription, error) {
	switch list.Encoding {
	case gpb.Encoding_JSON, gpb.Encoding_JSON_IETF, gpb.Encoding_PROTO:
	default:
		return nil, status.Errorf(codes.Unimplemented, "encoding %s is not supported: use JSON, JSON_IETF or PROTO", list.Encoding)
	}
	switch list.Mode {
	case gpb.SubscriptionList_ONCE, gpb.SubscriptionList_POLL, gpb.SubscriptionList_STREAM:
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unknown subscription list mode %d", list.Mode)
	}
	if len(list.Subscription) == 0 {
		return nil, status.Error(codes.InvalidArgument, "the subscription list holds no subscription")
	}
	models, err := modelFilter(list.UseModels)
	if err != nil {
		return nil, err
	}
	s := &subscription{g: g, list: list, models: models}
	if t := list.GetPrefix().GetTarget(); t != "" {
		s.prefix = &gpb.Path{Target: t}
	}
	for _, sub := range list.Subscription {
		elems, err := requestPath(list.Prefix, sub.Path)
		if err != nil {
			return nil, err
		}
		e := &subEntry{elems: elems, mode: sub.Mode, suppress: sub.SuppressRedundant}
		if list.Mode == gpb.SubscriptionList_STREAM {
			if err := g.streamTiming(e, sub); err != nil {
				return nil, err
			}
		}
		s.entries = append(s.entries, e)
	}
	return s, nil
}

// streamTiming checks the mode and intervals of a STREAM subscription.
func (g *Server) streamTiming(e *subEntry, sub *gpb.Subscription) error {
	interval := func(ns uint64, what string) (time.Duration, error) {
		d := time.Duration(ns)
		if ns > uint64(1<<62) || (d != 0 && d < MinSampleInterval) {
			return 0, status.Errorf(codes.InvalidArgument, "%s %v is not supported: the shortest is %v", what, d, MinSampleInterval)
		}
		return d, nil
	}
	var err error
	if e.heartbeat, err = interval(sub.HeartbeatInterval, "heartbeat_interval"); err != nil {
		return err
	}
	switch sub.Mode {
	case gpb.SubscriptionMode_SAMPLE:
		if e.sample, err = interval(sub.SampleInterval, "sample_interval"); err != nil {
			return err
		}
		if e.sample == 0 { // the lowest interval possible (3.5.1.5.2)
			e.sample = MinSampleInterval
		}
	case gpb.SubscriptionMode_TARGET_DEFINED:
		e.sample = g.opts.TargetDefinedSample
		e.suppress = true
		e.poll = OnChangeStateInterval
	case gpb.SubscriptionMode_ON_CHANGE:
		e.poll = OnChangeStateInterval
	default:
		return status.Errorf(codes.InvalidArgument, "unknown subscription mode %d", sub.Mode)
	}
	return nil
}

// sendDump sends what every entry selects now (unless updates_only) and
// sync_response: a ONCE subscription, or one poll.
func (s *subscription) sendDump(stream gpb.GNMI_SubscribeServer) error {
	if !s.list.UpdatesOnly {
		notes, err := s.dump(s.entries, false)
		if err != nil {
			return err
		}
		for _, n := range notes {
			if err := stream.Send(update(n)); err != nil {
				return err
			}
		}
	}
	return stream.Send(syncResponse())
}

// poll answers each Poll message with a dump (3.5.1.5.3).
func (s *subscription) poll(stream gpb.GNMI_SubscribeServer) error {
	if err := s.sendDump(stream); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case req.GetPoll() != nil:
			if err := s.sendDump(stream); err != nil {
				return err
			}
		case req.GetSubscribe() != nil:
			return status.Error(codes.InvalidArgument, "a subscription list was already given on this RPC; open another Subscribe RPC")
		default:
			return status.Error(codes.Unimplemented, "only Poll messages may follow a POLL subscription list (aliases are not supported)")
		}
	}
}

func update(n *gpb.Notification) *gpb.SubscribeResponse {
	return &gpb.SubscribeResponse{Response: &gpb.SubscribeResponse_Update{Update: n}}
}

func syncResponse() *gpb.SubscribeResponse {
	return &gpb.SubscribeResponse{Response: &gpb.SubscribeResponse_SyncResponse{SyncResponse: true}}
}

// dump renders the leaves the entries select now, one leaf per update.
// With record set, sampled entries remember what was sent.
func (s *subscription) dump(entries []*subEntry, record bool) ([]*gpb.Notification, error) {
	view, err := s.view(entries)
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixNano()
	var out []*gpb.Notification
	for _, e := range entries {
		leaves, err := s.leaves(view, e, false)
		if err != nil {
			return nil, err
		}
		if record && e.poll > 0 {
			e.polled = make(map[string]leafVal, len(leaves))
			for _, l := range leaves {
				if e.polls(l) {
					e.polled[schema.PathString(&gpb.Path{Elem: l.path})] = l
				}
			}
		}
		if record && e.sample > 0 {
			e.last = make(map[string]leafVal, len(leaves))
			for _, l := range leaves {
				if !e.countersOnly() || l.counter {
					e.last[schema.PathString(&gpb.Path{Elem: l.path})] = l
				}
			}
		}
		out = s.appendNotes(out, now, leaves, nil)
	}
	return out, nil
}

// view renders the configuration and the state under the entries' paths.
func (s *subscription) view(entries []*subEntry) (*gen.Device, error) {
	paths := make([]*gpb.Path, len(entries))
	for i, e := range entries {
		paths[i] = &gpb.Path{Elem: e.elems}
	}
	v, err := s.g.srv.View(paths)
	if err != nil {
		return nil, statusOf(err)
	}
	return s.g.srv.Readable(s.sess, v), nil
}

// stateView renders only the state under the entries' paths.
func (s *subscription) stateView(entries []*subEntry) (*gen.Device, error) {
	paths := make([]*gpb.Path, len(entries))
	for i, e := range entries {
		paths[i] = &gpb.Path{Elem: e.elems}
	}
	v, err := s.g.srv.State(paths)
	if err != nil {
		return nil, statusOf(err)
	}
	return v, nil
}

// leaves lists the leaves entry e selects in view, only counters when
// counters is set.
func (s *subscription) leaves(view *gen.Device, e *subEntry, counters bool) ([]leafVal, error) {
	matches, err := schema.MatchPath(view, e.elems)
	if err != nil {
		return nil, statusOf(err)
	}
	var out []leafVal
	if len(matches) == 0 && selectsOne(e.elems) {
		// One leaf whose default is in use: its value (3.3.4 as for Get).
		tv, err := defaultValue(view, e.elems, gpb.GetRequest_ALL, s.list.Encoding == gpb.Encoding_JSON_IETF)
		if err != nil {
			return nil, err
		}
		if tv != nil && s.list.Encoding == gpb.Encoding_PROTO {
			tv = nil // a scalar default is rendered below from the schema
			if info, err := schema.ResolveNode(e.elems); err == nil {
				field := reflect.New(info.Type).Elem()
				for _, d := range info.Schema.DefaultValues() {
					if schema.SetLeafText(info.Schema, field, d) != nil {
						return out, nil
					}
				}
				tv, _ = schema.TypedValue(field)
			}
		}
		if tv != nil {
			info, err := schema.ResolveNode(e.elems)
			out = append(out, leafVal{path: e.elems, val: tv, config: err == nil && info.Config})
		}
		return out, nil
	}
	for _, m := range s.models.filter(matches) {
		err := schema.WalkLeaves(m, func(l schema.LeafUpdate) error {
			counter := isCounter(l)
			if counters && !counter {
				return nil
			}
			tv, err := s.encodeLeaf(l)
			if err != nil {
				s.g.log.Warn("leaf not sent", "path", schema.PathString(&gpb.Path{Elem: l.Path}), "err", err)
				return nil
			}
			out = append(out, leafVal{path: l.Path, val: tv, counter: counter, config: l.Config})
			return nil
		})
		if err != nil {
			return nil, statusOf(err)
		}
	}
	return out, nil
}

// encodeLeaf renders a leaf in the subscription's encoding: JSON or
// JSON_IETF values as Get gives them (RFC 7951 for JSON_IETF), scalar
// TypedValues for PROTO.
func (s *subscription) encodeLeaf(l schema.LeafUpdate) (*gpb.TypedValue, error) {
	switch s.list.Encoding {
	case gpb.Encoding_JSON, gpb.Encoding_JSON_IETF:
		ietf := s.list.Encoding == gpb.Encoding_JSON_IETF
		val, err := schema.EncodeMatchJSON(schema.Match{Path: l.Path, Schema: l.Schema, Value: l.Value, Leaf: true}, ietf, nil)
		if err != nil {
			return nil, err
		}
		if ietf {
			return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: val}}, nil
		}
		return &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: val}}, nil
	}
	return schema.TypedValue(l.Value)
}

// encodeEvent renders a value an engine published (a scalar TypedValue)
// in the subscription's encoding.
func (s *subscription) encodeEvent(elems []*gpb.PathElem, tv *gpb.TypedValue) *gpb.TypedValue {
	if s.list.Encoding != gpb.Encoding_JSON && s.list.Encoding != gpb.Encoding_JSON_IETF {
		return tv
	}
	var text string
	switch v := tv.GetValue().(type) {
	case *gpb.TypedValue_StringVal:
		text = v.StringVal
	case *gpb.TypedValue_UintVal:
		text = strconv.FormatUint(v.UintVal, 10)
	case *gpb.TypedValue_IntVal:
		text = strconv.FormatInt(v.IntVal, 10)
	case *gpb.TypedValue_BoolVal:
		text = strconv.FormatBool(v.BoolVal)
	default:
		return tv // already structured (JSON) or not a scalar
	}
	info, err := schema.ResolveNode(elems)
	if err != nil || info.Kind != schema.KindLeaf {
		return tv
	}
	field := reflect.New(info.Type).Elem()
	if err := schema.SetLeafText(info.Schema, field, text); err != nil {
		return tv
	}
	enc, err := s.encodeLeaf(schema.LeafUpdate{Path: elems, Schema: info.Schema, Config: info.Config, Value: field})
	if err != nil {
		return tv
	}
	return enc
}

// isCounter reports whether a leaf is one of the counters (types
// counter32 and counter64) that TARGET_DEFINED samples.
func isCounter(l schema.LeafUpdate) bool {
	if l.Schema.Type == nil {
		return false
	}
	return strings.HasPrefix(stripModule(l.Schema.Type.Name), "counter")
}

// appendNotes packs leaves and deletes into notifications of at most
// bundle updates, stamped now.
func (s *subscription) appendNotes(out []*gpb.Notification, now int64, leaves []leafVal, deletes [][]*gpb.PathElem) []*gpb.Notification {
	var n *gpb.Notification
	for _, d := range deletes {
		if n == nil {
			n = &gpb.Notification{Timestamp: now, Prefix: s.prefix}
		}
		n.Delete = append(n.Delete, &gpb.Path{Elem: d})
	}
	for _, l := range leaves {
		if n == nil || len(n.Update) >= bundle {
			if n != nil {
				out = append(out, n)
			}
			n = &gpb.Notification{Timestamp: now, Prefix: s.prefix}
		}
		n.Update = append(n.Update, &gpb.Update{Path: &gpb.Path{Elem: l.path}, Val: l.val})
	}
	if n != nil {
		out = append(out, n)
	}
	return out
}

// errSlow is the status of a subscriber cut off for not keeping up.
func errSlow(queued int) error {
	return status.Errorf(codes.ResourceExhausted, "subscriber too slow: %d notifications queued and unsent; subscription cut off, resubscribe", queued)
}

// hubGone is the status of a subscription whose hub queue was closed.
func hubGone(err error) error {
	switch {
	case errors.Is(err, server.ErrSlowConsumer):
		return status.Error(codes.ResourceExhausted, "subscriber too slow: its event queue overflowed; subscription cut off, resubscribe")
	case errors.Is(err, server.ErrHubClosed):
		return status.Error(codes.Unavailable, "element stopping")
	}
	return status.Error(codes.Aborted, "subscription ended")
}
