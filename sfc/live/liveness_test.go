package live

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
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
	const profile = `"profiles": {"profile": [{"name": "p100", "desired-min-tx-interval": 100000, "required-min-rx-interval": 100000, "detection-multiplier": 3}]}`
	e := startElement(t, bnd, `{"wirebeat-bfd:bfd": {`+profile+`},
 "wirebeat-sfc:sfc": {
  "node": {"role": ["sf-node"], "local-sf-id": "local"},
  "encapsulation": {"local-address": "10.1.1.1"},
  "service-functions": {"service-function": [
    {"id": "local", "locator": [{"address": "10.1.1.1"}]},
    {"id": "near", "locator": [{"address": "10.1.1.2"}], "liveness": {"method": "single-hop", "bfd-profile": "p100"}},
    {"id": "far", "locator": [{"address": "10.1.2.2"}], "liveness": {"method": "multi-hop", "bfd-profile": "p100", "local-address": "10.1.2.1"}}
  ]},
  "sf-maps": {"sf-map": [{"index": 1, "service-function": ["local", "near", "far"]}]}
 }}`)
	e1 := startElement(t, sf1, `{"wirebeat-bfd:bfd": {`+profile+`,
 "single-hop": {"session": [{"interface": "`+s1+`", "dest-addr": "10.1.1.1", "profile": "p100"}]}}}`)
	startElement(t, sf2, `{"wirebeat-bfd:bfd": {`+profile+`,
 "multi-hop": {"session": [{"source-addr": "10.1.2.2", "dest-addr": "10.1.2.1", "profile": "p100"}]}}}`)
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
	x := e.state(t)
	if !strings.Contains(x, "<next-hop>10.1.1.2</next-hop>") {
		t.Fatalf("policy table without the live next hop:\n%s", x)
	}
	killed := time.Now()
	e1.kill()
	x = waitState(t, e, "single-hop locator down", func(x string) bool { return locState(x, "10.1.1.2") == "down" })
	t.Logf("single-hop locator down in the state %v after the SF node was killed (BFD 100 ms x 3; NETCONF polled every 300 ms)", time.Since(killed).Round(time.Millisecond))
	if locState(x, "10.1.2.2") != "up" {
		t.Fatalf("multihop locator not up: %s", locState(x, "10.1.2.2"))
	}
	if strings.Contains(x, "<next-hop>10.1.1.2</next-hop>") {
		t.Fatalf("dead locator still a next hop:\n%s", x)
	}
}
