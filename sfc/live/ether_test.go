package live

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// TestEthernetHop: NSH directly over Ethernet (EtherType 0x894F) between
// a boundary node and an SF node on one link, through pktio ports. The
// boundary takes the client's traffic from its external interface (the
// host does not forward it), classifies it, and sends it over Ethernet to
// the SF node's configured MAC; the SF node resolves the egress boundary
// by ARP and sends it back; the boundary removes the NSH and routes it to
// the server. tshark reads the NSH frames on the link; a scapy-built
// Ethernet+NSH frame is forwarded by the same rules, and NSH arriving on
// the external interface is stripped and classified afresh.
//
// The domain's link runs IPv4 (next hops by ARP) and, in a second run,
// IPv6 (next hops by neighbour discovery); the traffic carried is IPv4.
func TestEthernetHop(t *testing.T) {
	t.Run("ipv4", func(t *testing.T) {
		ethernetHop(t, domainAddrs{bnd: "10.2.0.1", sf: "10.2.0.11", core: "10.2.0.99", plen: "/24"})
	})
	t.Run("ipv6", func(t *testing.T) {
		ethernetHop(t, domainAddrs{bnd: "fd00:2::1", sf: "fd00:2::11", core: "fd00:2::99", plen: "/64"})
	})
}

// domainAddrs are the addresses of the domain's link.
type domainAddrs struct{ bnd, sf, core, plen string }

func ethernetHop(t *testing.T, d domainAddrs) {
	testenv.RequireRoot(t, "network namespaces")
	testenv.Tool(t, "tshark", "tshark")
	if exec.Command("/usr/bin/python3", "-c", "import ncclient, scapy.contrib.nsh").Run() != nil {
		testenv.Skip(t, "python3-ncclient and python3-scapy needed for /usr/bin/python3")
	}
	cli, srv, bnd, sf, core := netns.New(t, "ecli"), netns.New(t, "esrv"), netns.New(t, "ebnd"), netns.New(t, "esf"), netns.New(t, "ecor")
	c0, c1, s0, s1 := netns.Unique("c0"), netns.Unique("c1"), netns.Unique("s0"), netns.Unique("s1")
	for _, ns := range []*netns.NS{cli, srv, bnd, sf, core} {
		ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	netns.Veth(t, cli, c0, bnd, c1)
	netns.Veth(t, srv, s0, bnd, s1)
	cli.Addr(t, c0, "192.168.30.2/24")
	bnd.Addr(t, c1, "192.168.30.1/24")
	srv.Addr(t, s0, "192.168.40.2/24")
	bnd.Addr(t, s1, "192.168.40.1/24")
	cli.Must(t, "ip", "route", "add", "default", "via", "192.168.30.1")
	srv.Must(t, "ip", "route", "add", "default", "via", "192.168.40.1")
	core.Must(t, "ip", "link", "add", "br0", "type", "bridge")
	core.Must(t, "ip", "link", "set", "br0", "up")
	v6 := strings.Contains(d.bnd, ":")
	on := func(ns *netns.NS, ifname string) {
		if v6 {
			ns.Must(t, "sysctl", "-qw", "net.ipv6.conf."+ifname+".disable_ipv6=0")
		}
	}
	on(core, "br0")
	core.Addr(t, "br0", d.core+d.plen)
	var bndLink, sfLink, bndPort string
	for _, n := range []struct {
		ns   *netns.NS
		addr string
		name *string
	}{{bnd, d.bnd + d.plen, &bndLink}, {sf, d.sf + d.plen, &sfLink}} {
		a, b := netns.Unique("dn"), netns.Unique("dc")
		netns.Veth(t, n.ns, a, core, b)
		core.Must(t, "ip", "link", "set", b, "master", "br0")
		on(n.ns, a)
		n.ns.Addr(t, a, n.addr)
		*n.name = a
		if n.ns == bnd {
			bndPort = b
		}
	}
	// The boundary routes, except what arrives on its external
	// interface: that is wirebeat's to classify.
	bnd.Must(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	bnd.Must(t, "sysctl", "-qw", "net.ipv4.conf."+c1+".forwarding=0")
	sfMAC := sf.MAC(t, sfLink)
	sfcDomain := `
  "service-functions": {"service-function": [{"id": "cnt", "locator": [{"address": "` + d.sf + `"%s}]}]},
  "sf-maps": {"sf-map": [{"index": 30, "service-function": ["cnt"], "egress-node": "` + d.bnd + `",
                          "metadata": {"md1-context": "0000001e000000000000000000000003"}}]}`
	boundaries := `"boundary-node": ["` + d.bnd + `", "` + d.core + `"]`
	rt := netns.Unique("wbrt")
	eb := startElement(t, bnd, `{"wirebeat-sfc:sfc": {
  "node": {"role": ["boundary", "classifier"], `+boundaries+`,
           "routing-interface": "`+rt+`", "external-interface": ["`+c1+`"]},
  "encapsulation": {"transport": "ethernet", "interface": "`+bndLink+`", "local-address": "`+d.bnd+`"},`+
		fmt.Sprintf(sfcDomain, `, "mac-address": "`+sfMAC+`"`)+`,
  "classifier": {"rule": [{"name": "to-7000", "match": {"protocol": 17, "destination-port": {"lower": 7000}}, "sf-map-index": 30}]}
 }}`)
	bnd.Must(t, "sysctl", "-qw", "net.ipv4.conf."+rt+".rp_filter=0", "net.ipv6.conf."+rt+".disable_ipv6=1")
	es := startElement(t, sf, `{"wirebeat-sfc:sfc": {
  "node": {"role": ["sf-node"], "local-sf-id": "cnt", `+boundaries+`},
  "encapsulation": {"transport": "ethernet", "interface": "`+sfLink+`", "local-address": "`+d.sf+`"},`+
		fmt.Sprintf(sfcDomain, "")+`
 }}`)
	// The SF node resolves the egress boundary and the scapy vantage
	// point (a boundary node) by ARP or neighbour discovery.
	for end := time.Now().Add(60 * time.Second); ; {
		l := es.Log()
		if strings.Contains(l, "address="+d.bnd+" ") && strings.Contains(l, "address="+d.core+" ") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("SF node did not resolve its peers:\n%s", l)
		}
		time.Sleep(100 * time.Millisecond)
	}

	received := serveUDP(t, srv, net.IPv4(192, 168, 40, 2), []int{7000, 9000})
	client := listenUDP(t, cli, net.IPv4(192, 168, 30, 2), 0)

	stopCapture := capture(t, core, bndPort, "ether proto 0x894f")
	for i := range 5 {
		if _, err := client.WriteToUDP([]byte(fmt.Sprintf("p7000 %d", i)), &net.UDPAddr{IP: net.IPv4(192, 168, 40, 2), Port: 7000}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		if _, err := client.WriteToUDP([]byte(fmt.Sprintf("p9000 %d", i)), &net.UDPAddr{IP: net.IPv4(192, 168, 40, 2), Port: 9000}); err != nil {
			t.Fatal(err)
		}
	}
	got := receive(received, 5+4)
	pcap := stopCapture()
	if len(got[7000]) != 5 || len(got[9000]) != 4 {
		t.Fatalf("server received 7000:%d (chain) 9000:%d (bypass), want 5 and 4\nboundary log:\n%s\nSF node log:\n%s",
			len(got[7000]), len(got[9000]), eb.Log(), es.Log())
	}
	out, err := exec.Command("tshark", "-r", pcap, "-T", "fields", "-E", "separator=|",
		"-e", "eth.src", "-e", "eth.dst", "-e", "eth.type", "-e", "nsh.spi", "-e", "nsh.si", "-e", "nsh.mdtype",
		"-e", "nsh.nextproto", "-e", "nsh.contextheader", "-e", "udp.dstport").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	bndMAC := bnd.MAC(t, bndLink)
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 9 {
			continue
		}
		dir := "?"
		switch {
		case f[0] == bndMAC && f[1] == sfMAC:
			dir = "bnd->sf"
		case f[0] == sfMAC && f[1] == bndMAC:
			dir = "sf->bnd"
		}
		seen[fmt.Sprintf("%s %s %s/%s md%s np%s ctx %s to %s", dir, f[2], f[3], f[4], f[5], f[6],
			strings.NewReplacer(":", "", ",", "").Replace(f[7]), f[8])]++
	}
	t.Logf("tshark on the link: %v", seen)
	for k, n := range map[string]int{
		"bnd->sf 0x894f 30/255 md1 np1 ctx 0000001e000000000000000000000003 to 7000": 5,
		"sf->bnd 0x894f 30/254 md1 np1 ctx 0000001e000000000000000000000003 to 7000": 5,
	} {
		if seen[k] != n {
			t.Errorf("tshark: %d frames %q, want %d; read:\n%s", seen[k], k, n, out)
		}
	}
	if len(seen) != 2 {
		t.Errorf("tshark read other NSH frames: %v", seen)
	}

	// scapy: an Ethernet+NSH frame from the boundary-node vantage point
	// (core) to the SF node, and NSH claiming map 99 arriving on
	// the boundary's external interface.
	coreMAC, extMAC := core.MAC(t, "br0"), bnd.MAC(t, c1)
	scapyIn(t, core, fmt.Sprintf(`
f = Ether(src=%q, dst=%q, type=0x894F)/NSH(mdtype=1, nextproto=1, spi=30, si=255, ttl=20, context_header=bytes(16))/IP(src="192.168.30.2", dst="192.168.40.2")/UDP(sport=5555, dport=7000)/Raw(b"p7000 scapy over ethernet")
sendp(f, iface="br0", verbose=0)
`, coreMAC, sfMAC))
	scapyIn(t, cli, fmt.Sprintf(`
f = Ether(dst=%q, type=0x894F)/NSH(mdtype=1, nextproto=1, spi=99, si=255, ttl=20, context_header=bytes(16))/IP(src="192.168.30.2", dst="192.168.40.2")/UDP(sport=5556, dport=7000)/Raw(b"p7000 NSH from outside")
sendp(f, iface=%q, verbose=0)
`, extMAC, c0))
	got = receive(received, 2)
	if len(got[7000]) != 2 || len(got[9000]) != 0 {
		t.Fatalf("server received %v, want scapy's two packets on 7000", got)
	}
	bx, sx := sfcState(t, eb), sfcState(t, es)
	for leaf, want := range map[string]uint64{"classified-packets": 6, "unclassified-packets": 4, "decapsulated-packets": 7, "stripped-external-packets": 1} {
		if v := counter(t, bx, leaf); v != want {
			t.Errorf("boundary %s = %d, want %d", leaf, v, want)
		}
	}
	for leaf, want := range map[string]uint64{"local-sf-invocations": 7, "forwarded-packets": 7, "loop-detected-drops": 0} {
		if v := counter(t, sx, leaf); v != want {
			t.Errorf("SF node %s = %d, want %d", leaf, v, want)
		}
	}
}

func scapyIn(t *testing.T, ns *netns.NS, body string) {
	t.Helper()
	script := "from scapy.all import *\nfrom scapy.contrib.nsh import NSH\n" + body
	if out, err := ns.Command("/usr/bin/python3", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("scapy: %v\n%s", err, out)
	}
}
