package live

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/element"
	"github.com/wirebeat/wirebeat/tools/gobuild"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/syncbuf"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// TestLivenessSingleAndMultiHop: the boundary watches one SF's locator
// with single-hop BFD (RFC 5881) and another's with multihop BFD (RFC
// 5883); the SF nodes run the peer sessions from their /bfd
// configuration. Killing an SF node takes its locator down.
func TestLivenessSingleAndMultiHop(t *testing.T) {
	testenv.RequireRoot(t, "network namespaces")
	testenv.Tool(t, "ip", "iproute2")
	bnd, sf1, sf2 := netns.New(t, "lbnd"), netns.New(t, "lsf1"), netns.New(t, "lsf2")
	b1, s1, b2, s2 := netns.Unique("b1"), netns.Unique("s1"), netns.Unique("b2"), netns.Unique("s2")
	netns.Veth(t, bnd, b1, sf1, s1)
	netns.Veth(t, bnd, b2, sf2, s2)
	bnd.Addr(t, b1, "10.1.1.1/24")
	sf1.Addr(t, s1, "10.1.1.2/24")
	bnd.Addr(t, b2, "10.1.2.1/24")
	sf2.Addr(t, s2, "10.1.2.2/24")
	profile := `"profiles": {"profile": [` + bfdProfileJSON("live") + `]}`
	e := element.Start(t, bnd, "boundary", `{"wirebeat-bfd:bfd": {`+profile+`},
 "wirebeat-sfc:sfc": {
  "node": {"role": ["sf-node"], "local-sf-id": "local"},
  "encapsulation": {"local-address": "10.1.1.1"},
  "service-functions": {"service-function": [
    {"id": "local", "locator": [{"address": "10.1.1.1"}]},
    {"id": "near", "locator": [{"address": "10.1.1.2"}], "liveness": {"method": "single-hop", "bfd-profile": "live"}},
    {"id": "far", "locator": [{"address": "10.1.2.2"}], "liveness": {"method": "multi-hop", "bfd-profile": "live", "local-address": "10.1.2.1"}}
  ]},
  "sf-maps": {"sf-map": [{"index": 1, "service-function": ["local", "near", "far"]}]}
 }}`, element.Options{GNMI: true})
	e1 := startElement(t, sf1, `{"wirebeat-bfd:bfd": {`+profile+`,
 "single-hop": {"session": [{"interface": "`+s1+`", "dest-addr": "10.1.1.1", "profile": "live"}]}}}`)
	startElement(t, sf2, `{"wirebeat-bfd:bfd": {`+profile+`,
 "multi-hop": {"session": [{"source-addr": "10.1.2.2", "dest-addr": "10.1.2.1", "profile": "live"}]}}}`)
	locState := func(x, addr string) string {
		m := regexp.MustCompile(`(?s)<address>` + regexp.QuoteMeta(addr) + `</address>.*?<liveness-state>(\w+)</liveness-state>`).FindStringSubmatch(x)
		if m == nil {
			return ""
		}
		return m[1]
	}
	waitState(t, e, "both locators up by BFD", func(x string) bool {
		return locState(x, "10.1.1.2") == "up" && locState(x, "10.1.2.2") == "up"
	})
	x := sfcState(t, e)
	if !strings.Contains(x, "<next-hop>10.1.1.2</next-hop>") {
		t.Fatalf("policy table without the live next hop:\n%s", x)
	}
	// A gNMI ON_CHANGE subscription to the near locator's liveness, by
	// the reference client.
	sub := gnmiSubscribe(t, e, `subscribe: <prefix: <> mode: STREAM subscription: <mode: ON_CHANGE path: <elem: <name: "sfc"> `+
		`elem: <name: "service-functions"> elem: <name: "service-function" key: <key: "id" value: "near">> `+
		`elem: <name: "locator" key: <key: "address" value: "10.1.1.2">> elem: <name: "state"> elem: <name: "liveness-state">>>>`)
	if !sub.wait(`liveness-state, .*\bup\b`, 60*time.Second) {
		t.Fatalf("gnmi_cli: the initial up not seen:\n%s", sub.out.String())
	}
	killed := time.Now()
	e1.Kill()
	if !sub.wait(`liveness-state, .*\bdown\b`, 30*time.Second) {
		t.Fatalf("gnmi_cli: no ON_CHANGE update to down:\n%s", sub.out.String())
	}
	t.Logf("gNMI ON_CHANGE update to down seen by gnmi_cli %v after the SF node was killed (BFD %s)", time.Since(killed).Round(time.Millisecond), bfdTimers)
	t.Logf("gnmi_cli output:\n%s", sub.out.String())
	x = waitState(t, e, "single-hop locator down", func(x string) bool { return locState(x, "10.1.1.2") == "down" })
	t.Logf("single-hop locator down in the state %v after the SF node was killed (BFD %s; NETCONF polled every 300 ms)", time.Since(killed).Round(time.Millisecond), bfdTimers)
	if locState(x, "10.1.2.2") != "up" {
		t.Fatalf("multihop locator not up: %s", locState(x, "10.1.2.2"))
	}
	if strings.Contains(x, "<next-hop>10.1.1.2</next-hop>") {
		t.Fatalf("dead locator still a next hop:\n%s", x)
	}
}

type subscription struct{ out *syncbuf.Buffer }

// wait reports whether a line of the output matches re within d.
func (s subscription) wait(re string, d time.Duration) bool {
	rx := regexp.MustCompile(re)
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if rx.MatchString(s.out.String()) {
			return true
		}
	}
	return false
}

// gnmiSubscribe runs gnmi_cli in the element's namespace with the
// SubscribeRequest req (text proto) until the test ends.
func gnmiSubscribe(t *testing.T, e *element.Element, req string) subscription {
	t.Helper()
	if e.GNMI == "" {
		t.Fatal("element started without gNMI")
	}
	cmd := e.Command(gobuild.Binary(t, "github.com/openconfig/gnmi/cmd/gnmi_cli"), "-address", e.GNMI, "-ca_crt", filepath.Join(e.Datadir, "tls-cert.pem"), "-server_name", "localhost",
		"-with_user_pass", "-timeout", "60s", "-query_type", "s", "-display_type", "single", "-proto", req)
	cmd.Env = append(os.Environ(), "GNMI_USER=admin", "GNMI_PASS="+element.Password)
	s := subscription{out: &syncbuf.Buffer{}}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return s
}
