package live

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/element"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// startElement starts an SFC element in ns, named after it.
func startElement(t *testing.T, ns *netns.NS, config string) *element.Element {
	t.Helper()
	return element.Start(t, ns, ns.Name, config, element.Options{})
}

// sfcState returns the /sfc subtree of an element, over NETCONF.
func sfcState(t *testing.T, e *element.Element) string {
	t.Helper()
	return e.Get(t, `<sfc xmlns="urn:wirebeat:sfc"/>`)
}

// counter reads one leaf of /sfc/counters.
func counter(t *testing.T, xml, leaf string) uint64 {
	t.Helper()
	i := strings.Index(xml, "<counters>")
	for i >= 0 && !strings.Contains(xml[i:min(len(xml), i+40)], "classified-packets") {
		j := strings.Index(xml[i+1:], "<counters>")
		if j < 0 {
			i = -1
			break
		}
		i += 1 + j
	}
	if i < 0 {
		t.Fatalf("no /sfc/counters in %s", xml)
	}
	m := regexp.MustCompile(`<` + leaf + `>(\d+)</` + leaf + `>`).FindStringSubmatch(xml[i:])
	if m == nil {
		t.Fatalf("no %s in %s", leaf, xml[i:])
	}
	v, _ := strconv.ParseUint(m[1], 10, 64)
	return v
}

// entryPackets reads the packets of policy-table entry (spi, si).
func entryPackets(t *testing.T, xml string, spi, si int) uint64 {
	t.Helper()
	re := regexp.MustCompile(`(?s)<entry>(.*?)</entry>`)
	for _, m := range re.FindAllStringSubmatch(xml, -1) {
		if strings.Contains(m[1], fmt.Sprintf("<sf-map-index>%d</sf-map-index>", spi)) &&
			strings.Contains(m[1], fmt.Sprintf("<service-index>%d</service-index>", si)) {
			p := regexp.MustCompile(`<packets>(\d+)</packets>`).FindStringSubmatch(m[1])
			if p == nil {
				return 0
			}
			v, _ := strconv.ParseUint(p[1], 10, 64)
			return v
		}
	}
	t.Fatalf("no policy-table entry %d/%d in %s", spi, si, xml)
	return 0
}

// The BFD timers of the live tests' liveness profiles. What these tests
// prove is that a locator going down is detected and acted on, and that
// none flaps before: not a short detection time. A detection time of
// 1.5 s tolerates the element (or its peer) being held off the CPU for
// about a second, as happens when make test runs packages side by side;
// the detection figure logged is still the one measured.
const (
	bfdInterval   = 300 * time.Millisecond
	bfdMultiplier = 5
)

// bfdTimers is the timers of the liveness profile as logged.
var bfdTimers = fmt.Sprintf("%v x %d", bfdInterval, bfdMultiplier)

// bfdProfileJSON is a /bfd/profiles/profile entry named name with those
// timers.
func bfdProfileJSON(name string) string {
	us := bfdInterval.Microseconds()
	return fmt.Sprintf(`{"name": %q, "desired-min-tx-interval": %d, "required-min-rx-interval": %d, "detection-multiplier": %d}`,
		name, us, us, bfdMultiplier)
}

func bfdProfile() string {
	return `"wirebeat-bfd:bfd": {"profiles": {"profile": [` + bfdProfileJSON("fast") + `]}`
}

// domainSFC is what every node of the domain is told: the SFs and maps.
const domainSFC = `
  "service-functions": {"service-function": [
    {"id": "fw", "type": "firewall", "locator": [{"address": "10.0.0.1"}]},
    {"id": "cnt", "locator": [{"address": "10.0.0.11", "sbfd-discriminator": 4369}, {"address": "10.0.0.12", "sbfd-discriminator": 4369}]%s}
  ]},
  "sf-maps": {"sf-map": [
    {"index": 10, "service-function": ["fw", "cnt"], "egress-node": "10.0.0.1", "metadata": {"md1-context": "0000000a000000000000000000000001", "tlv": [{"class": 258, "type": 7, "value": "0a0a0a"}]}},
    {"index": 20, "service-function": ["cnt"], "egress-node": "10.0.0.1", "metadata": {"md1-context": "00000014000000000000000000000002", "tlv": [{"class": 258, "type": 7, "value": "14141414"}]}}
  ]}`

func boundaryConfig(rt, to, from string) string {
	return `{` + bfdProfile() + `},
 "wirebeat-sfc:sfc": {
  "node": {"role": ["boundary", "classifier", "sf-node"], "local-sf-id": "fw", "boundary-node": ["10.0.0.1"],
           "routing-interface": "` + rt + `",
           "local-function": {"kind": "proxy", "to-interface": "` + to + `", "from-interface": "` + from + `"}},
  "encapsulation": {"local-address": "10.0.0.1", "md-type": 2, "mtu": 1000},` +
		fmt.Sprintf(domainSFC, `, "liveness": {"method": "sbfd", "bfd-profile": "fast", "local-address": "10.0.0.1"}`) + `,
  "classifier": {"rule": [
    {"name": "to-7000", "priority": 10, "match": {"protocol": 17, "destination-port": {"lower": 7000, "upper": 7001}}, "sf-map-index": 10},
    {"name": "to-8000", "priority": 20, "match": {"protocol": 17, "destination-port": {"lower": 8000, "upper": 8099}}, "sf-map-index": 20}
  ]}
 }}`
}

func sfNodeConfig(addr string) string {
	return `{"wirebeat-bfd:bfd": {"sbfd": {"reflector": {"enabled": true, "discriminator": [4369], "local-address": "` + addr + `"}}},
 "wirebeat-sfc:sfc": {
  "node": {"role": ["sf-node"], "local-sf-id": "cnt", "boundary-node": ["10.0.0.1", "10.0.0.99"]},
  "encapsulation": {"local-address": "` + addr + `"},` + fmt.Sprintf(domainSFC, "") + `
 }}`
}

// firewall is the NSH-unaware SF: it passes UDP to 7000 and drops 7001.
const firewall = `table inet sfcfw {
  chain passing {
    type filter hook forward priority 0; policy accept;
    udp dport 7000 counter accept
    udp dport 7001 counter drop
  }
}
`

type domain struct {
	cli, srv, bnd, core, sf1, sf2, fw *netns.NS
	eb, e1, e2                        *element.Element
	client                            *net.UDPConn
	bndPort                           string // the boundary's port on the domain bridge, where tshark listens
	// received carries every datagram the server gets.
	received chan datagram
}

// build makes the namespaces: client and server outside the domain on
// either side of the boundary; the boundary, two SF nodes and the
// scapy/tshark vantage point on one bridged domain segment; the nftables
// function behind the boundary's proxy interfaces.
func build(t *testing.T) *domain {
	testenv.RequireRoot(t, "network namespaces")
	testenv.Tool(t, "nft", "nftables")
	testenv.Tool(t, "tshark", "tshark")
	if exec.Command("/usr/bin/python3", "-c", "import ncclient, scapy.contrib.nsh").Run() != nil {
		testenv.Skip(t, "python3-ncclient and python3-scapy needed for /usr/bin/python3")
	}
	d := &domain{
		cli: netns.New(t, "scli"), srv: netns.New(t, "ssrv"), bnd: netns.New(t, "sbnd"),
		core: netns.New(t, "scor"), sf1: netns.New(t, "ssf1"), sf2: netns.New(t, "ssf2"), fw: netns.New(t, "sfw"),
	}
	c0, c1, s0, s1 := netns.Unique("c0"), netns.Unique("c1"), netns.Unique("s0"), netns.Unique("s1")
	netns.Veth(t, d.cli, c0, d.bnd, c1)
	netns.Veth(t, d.srv, s0, d.bnd, s1)
	d.cli.Addr(t, c0, "192.168.10.2/24")
	d.bnd.Addr(t, c1, "192.168.10.1/24")
	d.srv.Addr(t, s0, "192.168.20.2/24")
	d.bnd.Addr(t, s1, "192.168.20.1/24")
	d.cli.Must(t, "ip", "route", "add", "default", "via", "192.168.10.1")
	d.srv.Must(t, "ip", "route", "add", "default", "via", "192.168.20.1")
	d.core.Must(t, "ip", "link", "add", "br0", "type", "bridge")
	d.core.Must(t, "ip", "link", "set", "br0", "up")
	d.core.Addr(t, "br0", "10.0.0.99/24")
	for _, n := range []struct {
		ns   *netns.NS
		addr string
	}{{d.bnd, "10.0.0.1/24"}, {d.sf1, "10.0.0.11/24"}, {d.sf2, "10.0.0.12/24"}} {
		a, b := netns.Unique("dn"), netns.Unique("dc")
		netns.Veth(t, n.ns, a, d.core, b)
		d.core.Must(t, "ip", "link", "set", b, "master", "br0")
		n.ns.Addr(t, a, n.addr)
		if n.ns == d.bnd {
			d.bndPort = b
		}
	}
	for _, ns := range []*netns.NS{d.bnd, d.fw} {
		ns.Must(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
			// No IPv6 on the TUNs: router solicitations would be traffic.
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	// Traffic from the client enters the domain through the routing TUN.
	rt, to, from := netns.Unique("wbrt"), netns.Unique("wbto"), netns.Unique("wbfr")
	d.bnd.Must(t, "ip", "rule", "add", "iif", c1, "lookup", "100")
	d.eb = startElement(t, d.bnd, boundaryConfig(rt, to, from))
	d.bnd.Must(t, "ip", "route", "add", "default", "dev", rt, "table", "100")
	d.bnd.Must(t, "sysctl", "-qw", "net.ipv4.conf."+rt+".rp_filter=0")
	// The proxy's interfaces go to the firewall's namespace: what the
	// proxy writes to `to` arrives there, is filtered and forwarded out
	// of `from`, where the proxy reads it back.
	for _, i := range []string{to, from} {
		d.bnd.Must(t, "ip", "link", "set", i, "netns", d.fw.Name)
		d.fw.Must(t, "ip", "link", "set", i, "up")
		d.fw.Must(t, "sysctl", "-qw", "net.ipv4.conf."+i+".rp_filter=0")
	}
	d.fw.Addr(t, to, "172.16.0.1/32")
	d.fw.Must(t, "ip", "route", "add", "default", "dev", from)
	nft := d.fw.Command("nft", "-f", "-")
	nft.Stdin = strings.NewReader(firewall)
	if out, err := nft.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	d.e1 = startElement(t, d.sf1, sfNodeConfig("10.0.0.11"))
	d.e2 = startElement(t, d.sf2, sfNodeConfig("10.0.0.12"))
	ports := []int{7000, 7001, 8050, 9000}
	for p := 8000; p < 8032; p++ {
		ports = append(ports, p)
	}
	d.received = serveUDP(t, d.srv, net.IPv4(192, 168, 20, 2), ports)
	d.client = listenUDP(t, d.cli, net.IPv4(192, 168, 10, 2), 0)
	return d
}
