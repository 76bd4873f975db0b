package gnmi_test

import (
	"context"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"

	"github.com/wirebeat/wirebeat/server/gnmi"
)

// A leaf whose default is in use has that value, for Get and for a ONCE
// subscription (specification 3.3.4).
func TestGetAndOnceReturnDefaultInUse(t *testing.T) {
	el := start(t)
	c := el.client(t, "view", viewPass)
	const passive = "/bfd/profiles/profile[name=default]/passive"
	if got := getOne(t, c, passive, gpb.GetRequest_ALL); got[passive] != "false" {
		t.Errorf("Get of a defaulted leaf: %v", got)
	}
	if got := getOne(t, c, passive, gpb.GetRequest_CONFIG); got[passive] != "false" {
		t.Errorf("Get CONFIG of a defaulted leaf: %v", got)
	}
	// Not when its list entry does not exist, nor under STATE.
	_, err := c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/bfd/profiles/profile[name=absent]/passive")}})
	wantCode(t, err, codes.NotFound, "default of an absent entry")
	_, err = c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{path(t, passive)}, Type: gpb.GetRequest_STATE})
	wantCode(t, err, codes.NotFound, "config default under STATE")
	s := subscribe(t, c, list(gpb.SubscriptionList_ONCE, onChange(t, passive)))
	if ups, _ := s.untilSync(); ups[passive] != "false" {
		t.Errorf("ONCE of a defaulted leaf: %v", ups)
	}
}

// Keys are compared in the form the datastores keep: an IPv6 key written
// in any spelling reads, updates and deletes the one entry.
func TestNonCanonicalIPv6Keys(t *testing.T) {
	el := start(t)
	c := el.client(t, "admin", adminPass)
	const written = "/softwire/b4/aftr[address=2001:DB8:0:0::5]"
	if _, err := c.Set(context.Background(), &gpb.SetRequest{Update: []*gpb.Update{{Path: path(t, written+"/preference"), Val: jsonVal(`7`)}}}); err != nil {
		t.Fatal(err)
	}
	if got := getOne(t, c, written+"/preference", gpb.GetRequest_CONFIG); got["/softwire/b4/aftr[address=2001:db8::5]/preference"] != "7" {
		t.Errorf("Get with the written key: %v", got)
	}
	s := subscribe(t, c, list(gpb.SubscriptionList_ONCE, onChange(t, "/softwire/b4/aftr[address=2001:0DB8::0:5]/preference")))
	if ups, _ := s.untilSync(); ups["/softwire/b4/aftr[address=2001:db8::5]/preference"] != "7" {
		t.Errorf("ONCE with another spelling: %v", ups)
	}
	if _, err := c.Set(context.Background(), &gpb.SetRequest{Delete: []*gpb.Path{path(t, written)}}); err != nil {
		t.Fatal(err)
	}
	if n := len(el.srv.Running().GetSoftwire().GetB4().Aftr); n != 0 {
		t.Errorf("delete with the written key left %d entries", n)
	}
}

// A key value that is not of its type is INVALID_ARGUMENT, for Get, Set
// and Subscribe.
func TestBadlyTypedKey(t *testing.T) {
	el := start(t)
	c := el.client(t, "admin", adminPass)
	bad := path(t, "/softwire/lwaftr/binding-table/softwire[ipv4=192.0.2.1][psid=abc]")
	_, err := c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{bad}})
	wantCode(t, err, codes.InvalidArgument, "Get psid=abc")
	_, err = c.Set(context.Background(), &gpb.SetRequest{Delete: []*gpb.Path{bad}})
	wantCode(t, err, codes.Aborted, "Set delete psid=abc")
	s := subscribe(t, c, list(gpb.SubscriptionList_ONCE, &gpb.Subscription{Path: bad}))
	wantCode(t, <-s.err, codes.InvalidArgument, "Subscribe psid=abc")
}

// Subscribe answers in the encoding asked for, as Get does.
func TestSubscribeHonoursEncoding(t *testing.T) {
	el := start(t)
	el.addSessions(t, 2)
	c := el.client(t, "view", viewPass)
	for _, tc := range []struct {
		enc  gpb.Encoding
		want func(*gpb.TypedValue) bool
	}{
		{gpb.Encoding_JSON_IETF, func(v *gpb.TypedValue) bool { return string(v.GetJsonIetfVal()) == `"0"` }}, // uint64 as a string (RFC 7951 6.1)
		{gpb.Encoding_JSON, func(v *gpb.TypedValue) bool { return len(v.GetJsonVal()) > 0 }},
		{gpb.Encoding_PROTO, func(v *gpb.TypedValue) bool { _, ok := v.GetValue().(*gpb.TypedValue_UintVal); return ok }},
	} {
		l := list(gpb.SubscriptionList_ONCE, onChange(t, rxPackets))
		l.Encoding = tc.enc
		s := subscribe(t, c, l)
		r := s.next()
		ups := r.GetUpdate().GetUpdate()
		if len(ups) != 1 || !tc.want(ups[0].Val) {
			t.Errorf("%s: %v", tc.enc, r)
		}
	}
}

// Origins: none, rfc7951 or a module's name reach our schema; openconfig
// is UNIMPLEMENTED.
func TestOrigins(t *testing.T) {
	el := start(t)
	c := el.client(t, "view", viewPass)
	for _, o := range []string{"", "rfc7951", "wirebeat-system"} {
		p := path(t, "/system/hostname")
		p.Origin = o
		if _, err := c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{p}}); err != nil {
			t.Errorf("origin %q: %v", o, err)
		}
	}
	p := path(t, "/system/hostname")
	p.Origin = "wirebeat-bfd"
	_, err := c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{p}})
	wantCode(t, err, codes.InvalidArgument, "origin of another module")
	p.Origin = "openconfig"
	_, err = c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{p}})
	wantCode(t, err, codes.Unimplemented, "openconfig origin")
}

// ON_CHANGE reports a counter that changes and the element's clock, each
// coalesced: consecutive updates of one leaf are at least about
// OnChangeStateInterval apart (a lower bound only; nothing here waits on
// the machine being fast).
func TestOnChangeReportsChangingState(t *testing.T) {
	el := start(t)
	el.addSessions(t, 2)
	c := el.client(t, "view", viewPass)
	s := subscribe(t, c, list(gpb.SubscriptionList_STREAM, onChange(t, rxPackets)))
	if ups, _ := s.untilSync(); ups[rxPackets] != "0" {
		t.Fatalf("initial: %v", ups)
	}
	el.engine.count("eth0", "10.0.0.1", 11)
	s.waitFor(rxPackets, "11", false)
	el.engine.count("eth0", "10.0.0.1", 12)
	s.waitFor(rxPackets, "12", false)

	const clock = "/system/state/current-datetime"
	s2 := subscribe(t, c, list(gpb.SubscriptionList_STREAM, onChange(t, clock)))
	ups, _ := s2.untilSync()
	seen := map[string]bool{ups[clock]: true}
	var stamps []int64
	for len(stamps) < 3 {
		r := s2.next()
		for _, u := range r.GetUpdate().GetUpdate() {
			if pathText(u.Path) == clock {
				seen[valText(u.Val)] = true
				stamps = append(stamps, r.GetUpdate().GetTimestamp())
			}
		}
	}
	if len(seen) < 3 {
		t.Errorf("current-datetime did not change: %v", seen)
	}
	for i := 1; i < len(stamps); i++ {
		if gap := time.Duration(stamps[i] - stamps[i-1]); gap < gnmi.OnChangeStateInterval*8/10 {
			t.Errorf("updates of one leaf %v apart: not coalesced to %v", gap, gnmi.OnChangeStateInterval)
		}
	}
}
