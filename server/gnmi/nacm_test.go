package gnmi_test

import (
	"context"
	"strings"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/grpc/codes"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server/internal/testelem"
)

// NACM over gNMI: a read rule hides a subtree from Get and Subscribe; an
// exec rule on NETCONF's get refuses gNMI Get, and the Set of a viewer is
// refused per path; the denials are counted.
func TestNACMReadRulesGetSubscribe(t *testing.T) {
	el := start(t)
	testelem.Edit(t, el.srv, func(root *gen.Device) {
		root.GetBfd().GetProfiles().GetOrCreateProfile("other").DetectionMultiplier = ygot.Uint8(5)
		testelem.DenyRead(root, "hide-default", "/bfd/profiles/profile[name='default']")
	})
	view, admin := el.client(t, "view", viewPass), el.client(t, "admin", adminPass)

	got := getOne(t, view, "/bfd/profiles", gpb.GetRequest_CONFIG)
	if v := got["/bfd/profiles"]; strings.Contains(v, `"default"`) || !strings.Contains(v, `"other"`) {
		t.Errorf("viewer Get: %v", got)
	}
	if v := getOne(t, admin, "/bfd/profiles", gpb.GetRequest_CONFIG)["/bfd/profiles"]; !strings.Contains(v, `"default"`) {
		t.Errorf("admin Get: %v", v)
	}
	ups, _ := subscribe(t, view, &gpb.SubscriptionList{Mode: gpb.SubscriptionList_ONCE, Encoding: gpb.Encoding_JSON_IETF,
		Subscription: []*gpb.Subscription{{Path: path(t, "/bfd/profiles")}}}).untilSync()
	for p := range ups {
		if strings.Contains(p, "name=default") {
			t.Errorf("viewer subscription sees %s", p)
		}
	}
	if len(ups) == 0 {
		t.Error("viewer subscription got nothing")
	}
	_, err := view.Set(context.Background(), &gpb.SetRequest{Update: []*gpb.Update{{Path: path(t, "/system/hostname"),
		Val: &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(`"x"`)}}}}})
	if err == nil || !strings.Contains(err.Error(), "PermissionDenied") || !strings.Contains(err.Error(), "/system/hostname") {
		t.Errorf("viewer Set: %v", err)
	}
	if el.srv.Running().GetSystem().GetHostname() != "wb-test" {
		t.Error("refused Set changed running")
	}

	before := el.srv.Denials()
	testelem.Edit(t, el.srv, func(root *gen.Device) { testelem.DenyRPC(root, "no-get", "ietf-netconf", "get") })
	_, err = get(t, view, &gpb.GetRequest{Path: []*gpb.Path{path(t, "/system")}, Encoding: gpb.Encoding_JSON_IETF})
	wantCode(t, err, codes.PermissionDenied, "viewer Get with get denied")
	if after := el.srv.Denials(); after.Operations != before.Operations+1 {
		t.Errorf("denied-operations %d -> %d", before.Operations, after.Operations)
	}
	getOne(t, admin, "/system/hostname", gpb.GetRequest_ALL)
}

// An ON_CHANGE subscriber is not sent the changes of what it may not
// read: the hidden profile's change never reaches it, the visible one's
// does (the hidden one is committed first, so it would come first).
func TestNACMOnChange(t *testing.T) {
	el := start(t)
	testelem.Edit(t, el.srv, func(root *gen.Device) {
		testelem.DenyRead(root, "hide-default", "/bfd/profiles/profile[name='default']")
	})
	sub := subscribe(t, el.client(t, "view", viewPass), &gpb.SubscriptionList{Mode: gpb.SubscriptionList_STREAM, Encoding: gpb.Encoding_JSON_IETF,
		Subscription: []*gpb.Subscription{{Path: path(t, "/bfd/profiles"), Mode: gpb.SubscriptionMode_ON_CHANGE}}})
	sub.untilSync()
	for _, name := range []string{"default", "visible"} {
		testelem.Edit(t, el.srv, func(root *gen.Device) {
			root.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile(name).DetectionMultiplier = ygot.Uint8(7)
		})
	}
	ups := map[string]string{}
	var dels []string
	for len(ups) == 0 {
		collect(sub.next().GetUpdate(), ups, &dels)
	}
	for p := range ups {
		if !strings.Contains(p, "name=visible") {
			t.Errorf("viewer sent %s", p)
		}
	}
}
