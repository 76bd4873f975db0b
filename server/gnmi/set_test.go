package gnmi_test

import (
	"context"
	"strings"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func jsonVal(s string) *gpb.TypedValue {
	return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(s)}}
}

func strVal(s string) *gpb.TypedValue {
	return &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: s}}
}

func uintVal(n uint64) *gpb.TypedValue {
	return &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: n}}
}

// setFailure checks that err is the ABORTED answer of a failed Set whose
// operation failed has code want and the others ABORTED.
func setFailure(t *testing.T, err error, ops, failed int, want codes.Code) string {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.Aborted {
		t.Fatalf("Set: got %v, want ABORTED", err)
	}
	var resp *gpb.SetResponse
	for _, d := range st.Details() {
		if r, ok := d.(*gpb.SetResponse); ok {
			resp = r
		}
	}
	if resp == nil || len(resp.Response) != ops {
		t.Fatalf("details: %v", st.Details())
	}
	for i, r := range resp.Response {
		//lint:ignore SA1019 the per-operation status of the specification
		m := r.GetMessage()
		code := codes.Code(m.GetCode())
		switch {
		case i == failed && code != want:
			t.Errorf("op %d: code %s, want %s (%s)", i, code, want, m.GetMessage())
		case i != failed && code != codes.Aborted:
			t.Errorf("op %d: code %s, want ABORTED", i, code)
		}
	}
	return st.Message()
}

func TestSetDeleteReplaceUpdateInOneTransaction(t *testing.T) {
	el := start(t)
	c := el.client(t, "admin", adminPass)
	hist0, _ := el.srv.History()
	resp, err := c.Set(context.Background(), &gpb.SetRequest{
		Prefix: &gpb.Path{Target: "wb"},
		Delete: []*gpb.Path{path(t, "/bfd/profiles/profile[name=default]")},
		Replace: []*gpb.Update{
			{Path: path(t, "/bfd/profiles/profile[name=fast]"), Val: jsonVal(`{"desired-min-tx-interval":300000,"required-min-rx-interval":300000,"detection-multiplier":3}`)},
			{Path: path(t, "/system/hostname"), Val: strVal("edge-1")},
		},
		Update: []*gpb.Update{
			{Path: path(t, "/bfd/profiles/profile[name=fast]/detection-multiplier"), Val: uintVal(5)},
			{Path: path(t, "/bfd/single-hop/session[interface=eth1][dest-addr=192.0.2.1]"), Val: jsonVal(`{"wirebeat-bfd:profile":"fast"}`)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Response) != 5 || resp.Prefix.GetTarget() != "wb" {
		t.Fatalf("response: %v", resp)
	}
	wantOps := []gpb.UpdateResult_Operation{gpb.UpdateResult_DELETE, gpb.UpdateResult_REPLACE, gpb.UpdateResult_REPLACE, gpb.UpdateResult_UPDATE, gpb.UpdateResult_UPDATE}
	for i, r := range resp.Response {
		if r.Op != wantOps[i] {
			t.Errorf("result %d: %s", i, r.Op)
		}
	}
	// One commit carried all of it.
	hist, _ := el.srv.History()
	if len(hist) != len(hist0)+1 || hist[0].Transport != "gnmi" || hist[0].User != "admin" {
		t.Errorf("history: %+v", hist)
	}
	got := getOne(t, c, "/bfd/profiles/profile", gpb.GetRequest_CONFIG)
	if len(got) != 1 || !strings.Contains(got["/bfd/profiles/profile[name=fast]"], `"wirebeat-bfd:detection-multiplier":5`) {
		t.Errorf("profiles: %v", got)
	}
	if got := getOne(t, c, "/system/hostname", gpb.GetRequest_CONFIG); got["/system/hostname"] != `"edge-1"` {
		t.Errorf("hostname: %v", got)
	}
	// Replace of a container drops what the value omits; update keeps it.
	_, err = c.Set(context.Background(), &gpb.SetRequest{
		Replace: []*gpb.Update{{Path: path(t, "/bfd/profiles/profile[name=fast]"), Val: jsonVal(`{"detection-multiplier":4}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := getOne(t, c, "/bfd/profiles/profile[name=fast]", gpb.GetRequest_CONFIG)["/bfd/profiles/profile[name=fast]"]; strings.Contains(v, "interval") {
		t.Errorf("replace kept omitted leaves: %s", v)
	}
	// A delete of what does not exist is accepted; wildcards expand.
	_, err = c.Set(context.Background(), &gpb.SetRequest{Delete: []*gpb.Path{
		path(t, "/bfd/profiles/profile[name=absent]"),
		path(t, "/bfd/single-hop/session[interface=*][dest-addr=*]"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := getOne(t, c, "/bfd/single-hop/session", gpb.GetRequest_CONFIG); len(got) != 0 {
		t.Errorf("wildcard delete left %v", got)
	}
	// An empty Set is not an error.
	if _, err := c.Set(context.Background(), &gpb.SetRequest{}); err != nil {
		t.Errorf("empty Set: %v", err)
	}
}

func TestSetRollbackWhenOneOperationIsInvalid(t *testing.T) {
	el := start(t)
	c := el.client(t, "admin", adminPass)
	hist0, _ := el.srv.History()
	for _, tc := range []struct {
		name   string
		req    *gpb.SetRequest
		ops    int
		failed int
		code   codes.Code
	}{
		{"value of the wrong type", &gpb.SetRequest{
			Replace: []*gpb.Update{{Path: path(t, "/system/hostname"), Val: strVal("changed")}},
			Update:  []*gpb.Update{{Path: path(t, "/bfd/profiles/profile[name=default]/detection-multiplier"), Val: strVal("many")}},
		}, 2, 1, codes.InvalidArgument},
		{"value out of range, found by validation", &gpb.SetRequest{
			Update: []*gpb.Update{
				{Path: path(t, "/system/hostname"), Val: strVal("changed")},
				{Path: path(t, "/bfd/profiles/profile[name=default]/detection-multiplier"), Val: uintVal(0)},
			},
		}, 2, 1, codes.InvalidArgument},
		{"unknown path", &gpb.SetRequest{
			Delete: []*gpb.Path{path(t, "/bfd/profiles/profile[name=default]")},
			Update: []*gpb.Update{{Path: path(t, "/system/no-such-leaf"), Val: strVal("x")}},
		}, 2, 1, codes.NotFound},
		{"state leaf", &gpb.SetRequest{
			Update: []*gpb.Update{{Path: path(t, "/system/hostname"), Val: strVal("changed")}, {Path: path(t, "/system/state/version"), Val: strVal("9")}},
		}, 2, 1, codes.InvalidArgument},
		{"key conflict", &gpb.SetRequest{
			Replace: []*gpb.Update{{Path: path(t, "/bfd/profiles/profile[name=p1]"), Val: jsonVal(`{"name":"p2"}`)}},
		}, 1, 0, codes.InvalidArgument},
		{"partial keys", &gpb.SetRequest{
			Update: []*gpb.Update{{Path: path(t, "/bfd/single-hop/session[interface=eth0]"), Val: jsonVal(`{}`)}},
		}, 1, 0, codes.InvalidArgument},
		{"dangling reference", &gpb.SetRequest{
			Update: []*gpb.Update{
				{Path: path(t, "/system/hostname"), Val: strVal("changed")},
				{Path: path(t, "/bfd/single-hop/session[interface=eth0][dest-addr=192.0.2.9]/profile"), Val: strVal("nope")},
			},
		}, 2, 1, codes.InvalidArgument},
		{"unsupported encoding", &gpb.SetRequest{
			Update: []*gpb.Update{{Path: path(t, "/bfd"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_BytesVal{BytesVal: []byte("x")}}}},
		}, 1, 0, codes.Unimplemented},
		{"wildcard in update", &gpb.SetRequest{
			Update: []*gpb.Update{{Path: path(t, "/bfd/profiles/profile[name=*]/passive"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_BoolVal{BoolVal: true}}}},
		}, 1, 0, codes.InvalidArgument},
	} {
		_, err := c.Set(context.Background(), tc.req)
		msg := setFailure(t, err, tc.ops, tc.failed, tc.code)
		if !strings.Contains(msg, "nothing changed") {
			t.Errorf("%s: message %q", tc.name, msg)
		}
	}
	// Nothing changed: no commit, same values.
	hist, _ := el.srv.History()
	if len(hist) != len(hist0) {
		t.Errorf("%d commits after failed sets", len(hist)-len(hist0))
	}
	if got := getOne(t, c, "/system/hostname", gpb.GetRequest_CONFIG); got["/system/hostname"] != `"wb-test"` {
		t.Errorf("hostname changed: %v", got)
	}
	if got := getOne(t, c, "/bfd/profiles/profile[name=default]/detection-multiplier", gpb.GetRequest_CONFIG); len(got) != 1 {
		t.Errorf("profile changed: %v", got)
	}
}

func TestAuthenticationFailure(t *testing.T) {
	el := start(t)
	for _, c := range []gpb.GNMIClient{el.client(t, "admin", "wrong"), el.client(t, "nobody", "x"), el.client(t, "", "")} {
		_, err := c.Capabilities(context.Background(), &gpb.CapabilityRequest{})
		wantCode(t, err, codes.Unauthenticated, "Capabilities")
		_, err = c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}})
		wantCode(t, err, codes.Unauthenticated, "Get")
		sub, err := c.Subscribe(context.Background())
		if err == nil {
			_, err = sub.Recv()
		}
		wantCode(t, err, codes.Unauthenticated, "Subscribe")
	}
	// A new password ends what the old one opened, at once.
	c := el.client(t, "oper", operPass)
	if _, err := c.Capabilities(context.Background(), &gpb.CapabilityRequest{}); err != nil {
		t.Fatal(err)
	}
	admin := el.client(t, "admin", adminPass)
	if _, err := admin.Set(context.Background(), &gpb.SetRequest{Update: []*gpb.Update{{Path: path(t, "/system/aaa/users/user[name=oper]/password"), Val: strVal("rotated")}}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Capabilities(context.Background(), &gpb.CapabilityRequest{})
	wantCode(t, err, codes.Unauthenticated, "old password")
	if _, err := el.client(t, "oper", "rotated").Capabilities(context.Background(), &gpb.CapabilityRequest{}); err != nil {
		t.Errorf("new password: %v", err)
	}
	// No read path returns a password in clear.
	got := getOne(t, admin, "/system/aaa/users/user[name=oper]/password", gpb.GetRequest_CONFIG)
	if v := got["/system/aaa/users/user[name=oper]/password"]; !strings.HasPrefix(v, `"$2`) {
		t.Errorf("password read back as %s", v)
	}
}

func TestRoleEnforcement(t *testing.T) {
	el := start(t)
	view := el.client(t, "view", viewPass)
	oper := el.client(t, "oper", operPass)
	profile := &gpb.SetRequest{Update: []*gpb.Update{{Path: path(t, "/bfd/profiles/profile[name=default]/passive"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_BoolVal{BoolVal: true}}}}}
	hostname := &gpb.SetRequest{Update: []*gpb.Update{{Path: path(t, "/system/hostname"), Val: strVal("mine")}}}

	// Viewers read, never write.
	getOne(t, view, "/system/hostname", gpb.GetRequest_ALL)
	_, err := view.Set(context.Background(), profile)
	setFailure(t, err, 1, 0, codes.PermissionDenied)
	// Operators edit BFD, not /system.
	if _, err := oper.Set(context.Background(), profile); err != nil {
		t.Errorf("operator BFD edit: %v", err)
	}
	_, err = oper.Set(context.Background(), hostname)
	setFailure(t, err, 1, 0, codes.PermissionDenied)
	// Admins edit everything.
	if _, err := el.client(t, "admin", adminPass).Set(context.Background(), hostname); err != nil {
		t.Errorf("admin: %v", err)
	}
}
