package gnmi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wirebeat/wirebeat/server/gnmi"
)

func path(t testing.TB, s string) *gpb.Path {
	t.Helper()
	if s == "/" {
		return &gpb.Path{}
	}
	p, err := ygot.StringToStructuredPath(s)
	if err != nil {
		t.Fatalf("path %q: %v", s, err)
	}
	return p
}

func pathText(p *gpb.Path) string {
	s, err := ygot.PathToString(p)
	if err != nil {
		return "?"
	}
	return s
}

// get runs a Get of one path and returns update path -> JSON value.
func get(t testing.TB, c gpb.GNMIClient, req *gpb.GetRequest) (map[string]string, error) {
	t.Helper()
	resp, err := c.Get(context.Background(), req)
	if err != nil {
		return nil, err
	}
	if len(resp.Notification) != len(req.Path) {
		t.Fatalf("%d notifications for %d paths", len(resp.Notification), len(req.Path))
	}
	out := map[string]string{}
	for _, n := range resp.Notification {
		if n.Timestamp == 0 {
			t.Errorf("notification without timestamp")
		}
		for _, u := range n.Update {
			v := u.Val.GetJsonIetfVal()
			if v == nil {
				v = u.Val.GetJsonVal()
			}
			if !json.Valid(v) {
				t.Errorf("%s: invalid JSON %q", pathText(u.Path), v)
			}
			out[pathText(u.Path)] = string(v)
		}
	}
	return out, nil
}

func getOne(t testing.TB, c gpb.GNMIClient, p string, typ gpb.GetRequest_DataType) map[string]string {
	t.Helper()
	got, err := get(t, c, &gpb.GetRequest{Path: []*gpb.Path{path(t, p)}, Type: typ, Encoding: gpb.Encoding_JSON_IETF})
	if err != nil {
		t.Fatalf("Get %s: %v", p, err)
	}
	return got
}

func wantCode(t testing.TB, err error, code codes.Code, what string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
}

func TestCapabilities(t *testing.T) {
	el := start(t)
	resp, err := el.client(t, "view", viewPass).Capabilities(context.Background(), &gpb.CapabilityRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GNMIVersion != gnmi.Version {
		t.Errorf("version %q", resp.GNMIVersion)
	}
	names := map[string]*gpb.ModelData{}
	for _, m := range resp.SupportedModels {
		names[m.Name] = m
	}
	for _, want := range []string{"wirebeat-system", "wirebeat-bfd", "wirebeat-types"} {
		m := names[want]
		if m == nil || m.Organization != "wirebeat" || m.Version != "2026-11-23" {
			t.Errorf("model %s: %v", want, m)
		}
	}
	enc := map[gpb.Encoding]bool{}
	for _, e := range resp.SupportedEncodings {
		enc[e] = true
	}
	if !enc[gpb.Encoding_JSON] || !enc[gpb.Encoding_JSON_IETF] {
		t.Errorf("encodings %v", resp.SupportedEncodings)
	}
}

func TestGetLeafKeysPrefixAndTarget(t *testing.T) {
	el := start(t)
	c := el.client(t, "view", viewPass)
	if got := getOne(t, c, "/system/hostname", gpb.GetRequest_ALL); got["/system/hostname"] != `"wb-test"` {
		t.Errorf("hostname: %v", got)
	}
	got := getOne(t, c, "/bfd/profiles/profile[name=default]/detection-multiplier", gpb.GetRequest_CONFIG)
	if got["/bfd/profiles/profile[name=default]/detection-multiplier"] != "3" {
		t.Errorf("keyed leaf: %v", got)
	}
	// A prefix with a target: the response echoes it and paths stay
	// relative to it.
	resp, err := c.Get(context.Background(), &gpb.GetRequest{
		Prefix:   &gpb.Path{Target: "wb", Elem: path(t, "/system").Elem},
		Path:     []*gpb.Path{path(t, "/hostname")},
		Encoding: gpb.Encoding_JSON_IETF,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := resp.Notification[0]
	if n.Prefix.GetTarget() != "wb" || pathText(n.Update[0].Path) != "/hostname" {
		t.Errorf("prefix %v, update path %s", n.Prefix, pathText(n.Update[0].Path))
	}
	// A list entry is an object with its keys; the members of a JSON_IETF
	// value's top-level object are module-qualified (RFC 7951 section 4).
	got = getOne(t, c, "/bfd/profiles/profile[name=default]", gpb.GetRequest_CONFIG)
	if v := got["/bfd/profiles/profile[name=default]"]; !strings.Contains(v, `"wirebeat-bfd:name":"default"`) {
		t.Errorf("entry: %s", v)
	}
}

func TestGetEncodings(t *testing.T) {
	el := start(t)
	c := el.client(t, "view", viewPass)
	ietf, err := get(t, c, &gpb.GetRequest{Path: []*gpb.Path{{}}, Type: gpb.GetRequest_CONFIG, Encoding: gpb.Encoding_JSON_IETF})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ietf["/"], `"wirebeat-system:system":`) {
		t.Errorf("JSON_IETF root not module-qualified: %.200s", ietf["/"])
	}
	plain, err := get(t, c, &gpb.GetRequest{Path: []*gpb.Path{{}}, Type: gpb.GetRequest_CONFIG, Encoding: gpb.Encoding_JSON})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plain["/"], `"system":`) || strings.Contains(plain["/"], "wirebeat-system:") {
		t.Errorf("JSON root: %.200s", plain["/"])
	}
	_, err = get(t, c, &gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}, Encoding: gpb.Encoding_PROTO})
	wantCode(t, err, codes.Unimplemented, "PROTO encoding")
	if !strings.Contains(status.Convert(err).Message(), "encoding") {
		t.Errorf("message does not name the encoding: %v", err)
	}
}

func TestGetWildcards(t *testing.T) {
	el := start(t)
	el.addSessions(t, 3)
	c := el.client(t, "view", viewPass)
	got := getOne(t, c, "/bfd/single-hop/session[interface=*][dest-addr=*]/profile", gpb.GetRequest_CONFIG)
	if len(got) != 3 || got["/bfd/single-hop/session[dest-addr=10.0.0.1][interface=eth0]/profile"] != `"default"` {
		t.Errorf("key wildcards: %v", got)
	}
	// Absent keys are wildcards too.
	if got := getOne(t, c, "/bfd/single-hop/session/profile", gpb.GetRequest_CONFIG); len(got) != 3 {
		t.Errorf("absent keys: %v", got)
	}
	got = getOne(t, c, "/bfd/.../local-state", gpb.GetRequest_STATE)
	if len(got) != 3 || got["/bfd/single-hop/session[dest-addr=10.0.0.2][interface=eth0]/state/local-state"] != `"down"` {
		t.Errorf("...: %v", got)
	}
	got = getOne(t, c, "/system/*", gpb.GetRequest_CONFIG)
	if got["/system/hostname"] != `"wb-test"` || got["/system/aaa"] == "" {
		t.Errorf("*: %v", got)
	}
	if _, ok := got["/system/state"]; ok {
		t.Errorf("CONFIG returned state: %v", got)
	}
	// A wildcard that selects nothing is an empty answer, not an error.
	if got := getOne(t, c, "/bfd/multi-hop/session[source-addr=*][dest-addr=*]", gpb.GetRequest_ALL); len(got) != 0 {
		t.Errorf("empty wildcard: %v", got)
	}
}

func TestGetTypes(t *testing.T) {
	el := start(t)
	el.addSessions(t, 1)
	c := el.client(t, "view", viewPass)
	const p = "/bfd/single-hop/session[dest-addr=10.0.0.0][interface=eth0]"
	cfg := getOne(t, c, p, gpb.GetRequest_CONFIG)[p]
	if !strings.Contains(cfg, `"wirebeat-bfd:profile":"default"`) || strings.Contains(cfg, "local-state") {
		t.Errorf("CONFIG: %s", cfg)
	}
	for _, typ := range []gpb.GetRequest_DataType{gpb.GetRequest_STATE, gpb.GetRequest_OPERATIONAL} {
		st := getOne(t, c, p, typ)[p]
		if strings.Contains(st, "profile") || !strings.Contains(st, `"local-state":"down"`) || !strings.Contains(st, `"wirebeat-bfd:interface":"eth0"`) {
			t.Errorf("%s: %s", typ, st)
		}
	}
	all := getOne(t, c, p, gpb.GetRequest_ALL)[p]
	if !strings.Contains(all, `"wirebeat-bfd:profile":"default"`) || !strings.Contains(all, `"local-state":"down"`) || !strings.Contains(all, `"rx-packets":"0"`) {
		t.Errorf("ALL: %s", all)
	}
	// /system/state is rendered by the element itself.
	if got := getOne(t, c, "/system/state/version", gpb.GetRequest_STATE); got["/system/state/version"] != `"test"` {
		t.Errorf("system state: %v", got)
	}
}

func TestGetErrors(t *testing.T) {
	el := start(t)
	c := el.client(t, "view", viewPass)
	for _, tc := range []struct {
		req  *gpb.GetRequest
		code codes.Code
		what string
	}{
		{&gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/no-such-leaf")}}, codes.NotFound, "unknown node"},
		{&gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname/deeper")}}, codes.NotFound, "below a leaf"},
		{&gpb.GetRequest{Path: []*gpb.Path{path(t, "/bfd/profiles/profile[nom=x]")}}, codes.InvalidArgument, "unknown key"},
		{&gpb.GetRequest{Path: []*gpb.Path{path(t, "/system[name=x]")}}, codes.InvalidArgument, "keys on a container"},
		{&gpb.GetRequest{Path: []*gpb.Path{{Origin: "openconfig", Elem: path(t, "/system").Elem}}}, codes.Unimplemented, "openconfig origin"},
		{&gpb.GetRequest{Path: []*gpb.Path{path(t, "/bfd/profiles/profile[name=absent]")}}, codes.NotFound, "absent entry"},
		{&gpb.GetRequest{Path: []*gpb.Path{path(t, "/bfd/profiles/profile[name=default]/authentication/secret")}}, codes.NotFound, "unset leaf without default"},
		{&gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}, Encoding: gpb.Encoding_ASCII}, codes.Unimplemented, "ASCII"},
		{&gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}, UseModels: []*gpb.ModelData{{Name: "openconfig-interfaces"}}}, codes.InvalidArgument, "unknown model"},
		{&gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}, Type: 42}, codes.InvalidArgument, "unknown type"},
	} {
		_, err := c.Get(context.Background(), tc.req)
		wantCode(t, err, tc.code, tc.what)
	}
	// use_models restricts what the root holds.
	got, err := get(t, c, &gpb.GetRequest{Path: []*gpb.Path{{}}, Type: gpb.GetRequest_CONFIG, Encoding: gpb.Encoding_JSON_IETF,
		UseModels: []*gpb.ModelData{{Name: "wirebeat-bfd"}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got["/"], "system") || !strings.Contains(got["/"], "wirebeat-bfd:bfd") {
		t.Errorf("use_models: %s", got["/"])
	}
}
