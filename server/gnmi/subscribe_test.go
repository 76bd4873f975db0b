package gnmi_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server/gnmi"
)

// waitLimit bounds how long a test waits for something that must come;
// it is a failure deadline, not a measurement.
const waitLimit = 20 * time.Second

type subClient struct {
	t      *testing.T
	stream gpb.GNMI_SubscribeClient
	cancel context.CancelFunc
	msgs   chan *gpb.SubscribeResponse
	err    chan error
}

// subscribe opens a Subscribe RPC, sends list and reads responses in the
// background.
func subscribe(t *testing.T, c gpb.GNMIClient, list *gpb.SubscriptionList) *subClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: list}}); err != nil {
		t.Fatal(err)
	}
	s := &subClient{t: t, stream: stream, cancel: cancel, msgs: make(chan *gpb.SubscribeResponse, 1<<16), err: make(chan error, 1)}
	t.Cleanup(cancel)
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				s.err <- err
				close(s.msgs)
				return
			}
			s.msgs <- r
		}
	}()
	return s
}

// next returns the next response, failing after waitLimit.
func (s *subClient) next() *gpb.SubscribeResponse {
	s.t.Helper()
	select {
	case r, ok := <-s.msgs:
		if !ok {
			s.t.Fatalf("subscription ended: %v", <-s.err)
		}
		return r
	case <-time.After(waitLimit):
		s.t.Fatal("no response")
	}
	return nil
}

// untilSync collects updates (path -> value text) and deletes up to
// sync_response.
func (s *subClient) untilSync() (map[string]string, []string) {
	s.t.Helper()
	ups := map[string]string{}
	var dels []string
	for {
		r := s.next()
		if r.GetSyncResponse() {
			return ups, dels
		}
		collect(r.GetUpdate(), ups, &dels)
	}
}

func collect(n *gpb.Notification, ups map[string]string, dels *[]string) {
	for _, u := range n.GetUpdate() {
		ups[pathText(u.Path)] = valText(u.Val)
	}
	for _, d := range n.GetDelete() {
		*dels = append(*dels, pathText(d))
	}
}

func valText(v *gpb.TypedValue) string {
	switch x := v.GetValue().(type) {
	case *gpb.TypedValue_JsonIetfVal, *gpb.TypedValue_JsonVal:
		raw := v.GetJsonIetfVal()
		if raw == nil {
			raw = v.GetJsonVal()
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return string(raw)
	case *gpb.TypedValue_StringVal:
		return x.StringVal
	case *gpb.TypedValue_UintVal:
		return strings.TrimSpace(strings.ReplaceAll(v.String(), "uint_val:", ""))
	}
	return strings.TrimSpace(v.String())
}

// waitFor reads notifications until one holds an update of path (with
// value want, when not empty) or a delete of it.
func (s *subClient) waitFor(path, want string, del bool) {
	s.t.Helper()
	for {
		r := s.next()
		ups := map[string]string{}
		var dels []string
		collect(r.GetUpdate(), ups, &dels)
		if del {
			for _, d := range dels {
				if d == path {
					return
				}
			}
			continue
		}
		if v, ok := ups[path]; ok && (want == "" || v == want) {
			return
		}
	}
}

func list(mode gpb.SubscriptionList_Mode, subs ...*gpb.Subscription) *gpb.SubscriptionList {
	return &gpb.SubscriptionList{Mode: mode, Subscription: subs, Encoding: gpb.Encoding_JSON_IETF}
}

func onChange(t *testing.T, p string) *gpb.Subscription {
	return &gpb.Subscription{Path: path(t, p), Mode: gpb.SubscriptionMode_ON_CHANGE}
}

const (
	hostname   = "/system/hostname"
	localState = "/bfd/single-hop/session[dest-addr=10.0.0.1][interface=eth0]/state/local-state"
	rxPackets  = "/bfd/single-hop/session[dest-addr=10.0.0.1][interface=eth0]/state/counters/rx-packets"
)

func TestSubscribeOnce(t *testing.T) {
	el := start(t)
	el.addSessions(t, 2)
	s := subscribe(t, el.client(t, "view", viewPass), list(gpb.SubscriptionList_ONCE,
		onChange(t, "/system/hostname"), onChange(t, "/bfd/single-hop/session[interface=*][dest-addr=*]/state")))
	ups, _ := s.untilSync()
	if ups[hostname] != "wb-test" || ups[localState] != "down" || len(ups) != 5 {
		t.Errorf("once: %v", ups)
	}
	if err := <-s.err; err != io.EOF {
		t.Errorf("ONCE must close the RPC after sync_response: %v", err)
	}
}

func TestSubscribePoll(t *testing.T) {
	el := start(t)
	el.addSessions(t, 2)
	s := subscribe(t, el.client(t, "view", viewPass), list(gpb.SubscriptionList_POLL, onChange(t, localState)))
	if ups, _ := s.untilSync(); ups[localState] != "down" {
		t.Fatalf("first poll: %v", ups)
	}
	el.engine.setState("eth0", "10.0.0.1", gen.WirebeatBfd_BfdState_up)
	if err := s.stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Poll{Poll: &gpb.Poll{}}}); err != nil {
		t.Fatal(err)
	}
	if ups, _ := s.untilSync(); ups[localState] != "up" {
		t.Errorf("second poll: %v", ups)
	}
}

func TestSubscribeOnChangeConfigStateAndDeletes(t *testing.T) {
	el := start(t)
	el.addSessions(t, 2)
	c := el.client(t, "admin", adminPass)
	s := subscribe(t, c, list(gpb.SubscriptionList_STREAM,
		onChange(t, "/system/hostname"), onChange(t, "/bfd/single-hop/session"), onChange(t, "/bfd/profiles/profile[name=later]/detection-multiplier")))
	ups, _ := s.untilSync()
	if ups[hostname] != "wb-test" || ups[localState] != "down" {
		t.Fatalf("initial: %v", ups)
	}
	// A configuration change arrives from the commit's event.
	if _, err := c.Set(context.Background(), &gpb.SetRequest{Update: []*gpb.Update{{Path: path(t, hostname), Val: strVal("renamed")}}}); err != nil {
		t.Fatal(err)
	}
	s.waitFor(hostname, "renamed", false)
	// A state change arrives from the engine's event.
	el.engine.setState("eth0", "10.0.0.1", gen.WirebeatBfd_BfdState_up)
	s.waitFor(localState, "up", false)
	// A path that did not exist when subscribed shows up when created.
	if _, err := c.Set(context.Background(), &gpb.SetRequest{Update: []*gpb.Update{{Path: path(t, "/bfd/profiles/profile[name=later]"), Val: jsonVal(`{"detection-multiplier":7}`)}}}); err != nil {
		t.Fatal(err)
	}
	s.waitFor("/bfd/profiles/profile[name=later]/detection-multiplier", "7", false)
	// A list entry that goes away is a delete.
	if _, err := c.Set(context.Background(), &gpb.SetRequest{Delete: []*gpb.Path{path(t, "/bfd/single-hop/session[interface=eth0][dest-addr=10.0.0.1]")}}); err != nil {
		t.Fatal(err)
	}
	s.waitFor("/bfd/single-hop/session[dest-addr=10.0.0.1][interface=eth0]", "", true)
}

func TestSubscribeUpdatesOnlyAndNonexistentPath(t *testing.T) {
	el := start(t)
	c := el.client(t, "admin", adminPass)
	l := list(gpb.SubscriptionList_STREAM, onChange(t, "/system/hostname"), onChange(t, "/bfd/single-hop/session[interface=eth9][dest-addr=*]/profile"))
	l.UpdatesOnly = true
	s := subscribe(t, c, l)
	if ups, _ := s.untilSync(); len(ups) != 0 {
		t.Fatalf("updates_only sent the current state: %v", ups)
	}
	if _, err := c.Set(context.Background(), &gpb.SetRequest{Update: []*gpb.Update{{Path: path(t, "/bfd/single-hop/session[interface=eth9][dest-addr=192.0.2.7]/profile"), Val: strVal("default")}}}); err != nil {
		t.Fatal(err)
	}
	s.waitFor("/bfd/single-hop/session[dest-addr=192.0.2.7][interface=eth9]/profile", "default", false)
}

func TestSubscribeSample(t *testing.T) {
	el := start(t)
	el.addSessions(t, 2)
	sub := &gpb.Subscription{Path: path(t, rxPackets), Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: uint64(20 * time.Millisecond), SuppressRedundant: true}
	s := subscribe(t, el.client(t, "view", viewPass), list(gpb.SubscriptionList_STREAM, sub))
	if ups, _ := s.untilSync(); ups[rxPackets] != "0" {
		t.Fatalf("initial: %v", ups)
	}
	// With suppress_redundant an unchanged counter is not sent again:
	// the next update carries the new value, whenever it comes.
	el.engine.count("eth0", "10.0.0.1", 42)
	r := s.next()
	if got := valText(r.GetUpdate().GetUpdate()[0].GetVal()); got != "42" {
		t.Errorf("sample after change: %s (%v)", got, r)
	}
	// Without it every sample repeats the value.
	sub2 := &gpb.Subscription{Path: path(t, rxPackets), Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: uint64(20 * time.Millisecond)}
	s2 := subscribe(t, el.client(t, "view", viewPass), list(gpb.SubscriptionList_STREAM, sub2))
	s2.untilSync()
	for i := 0; i < 3; i++ {
		s2.waitFor(rxPackets, "42", false)
	}
	// A heartbeat resends under suppress_redundant.
	sub3 := &gpb.Subscription{Path: path(t, rxPackets), Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: uint64(20 * time.Millisecond), SuppressRedundant: true, HeartbeatInterval: uint64(50 * time.Millisecond)}
	s3 := subscribe(t, el.client(t, "view", viewPass), list(gpb.SubscriptionList_STREAM, sub3))
	s3.untilSync()
	s3.waitFor(rxPackets, "42", false)
	// A sampled leaf whose entry goes away is deleted.
	if _, err := el.client(t, "admin", adminPass).Set(context.Background(), &gpb.SetRequest{Delete: []*gpb.Path{path(t, "/bfd/single-hop/session[interface=eth0][dest-addr=10.0.0.1]")}}); err != nil {
		t.Fatal(err)
	}
	s.waitFor(rxPackets, "", true)
	// Too short an interval is refused.
	bad := &gpb.Subscription{Path: path(t, rxPackets), Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: 1000}
	s4 := subscribe(t, el.client(t, "view", viewPass), list(gpb.SubscriptionList_STREAM, bad))
	wantCode(t, <-s4.err, codes.InvalidArgument, "sample_interval 1µs")
}

func TestSubscribeTargetDefined(t *testing.T) {
	el := start(t, func(o *gnmi.Options) { o.TargetDefinedSample = 20 * time.Millisecond })
	el.addSessions(t, 2)
	sub := &gpb.Subscription{Path: path(t, "/bfd/single-hop/session[interface=eth0][dest-addr=10.0.0.1]/state"), Mode: gpb.SubscriptionMode_TARGET_DEFINED}
	s := subscribe(t, el.client(t, "view", viewPass), list(gpb.SubscriptionList_STREAM, sub))
	if ups, _ := s.untilSync(); ups[localState] != "down" || ups[rxPackets] != "0" {
		t.Fatalf("initial: %v", ups)
	}
	// The state is pushed on change, the counter sampled.
	el.engine.setState("eth0", "10.0.0.1", gen.WirebeatBfd_BfdState_up)
	s.waitFor(localState, "up", false)
	el.engine.count("eth0", "10.0.0.1", 7)
	s.waitFor(rxPackets, "7", false)
}

func TestSubscribeBadRequests(t *testing.T) {
	el := start(t)
	c := el.client(t, "view", viewPass)
	// Poll before any subscription list.
	stream, err := c.Subscribe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Poll{Poll: &gpb.Poll{}}})
	_, err = stream.Recv()
	wantCode(t, err, codes.InvalidArgument, "poll first")
	// A second subscription list on a STREAM RPC.
	s := subscribe(t, c, list(gpb.SubscriptionList_STREAM, onChange(t, hostname)))
	s.untilSync()
	s.stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: list(gpb.SubscriptionList_STREAM, onChange(t, hostname))}})
	wantCode(t, <-s.err, codes.InvalidArgument, "second list")
	// A path outside the schema.
	s = subscribe(t, c, list(gpb.SubscriptionList_STREAM, onChange(t, "/nowhere")))
	wantCode(t, <-s.err, codes.NotFound, "unknown path")
}
