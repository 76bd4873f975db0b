package lwfaillive

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/element"
	"github.com/wirebeat/wirebeat/tools/etcdtest"
	"github.com/wirebeat/wirebeat/tools/lwtopo"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/syncbuf"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// waitFor polls cond until it holds (element.WaitFor).
var waitFor = element.WaitFor

// proxyInto makes target (a TCP address of the test's own namespace, an
// etcd member on loopback) reachable at 127.0.0.1:PORT inside ns: a
// listening socket made in ns, each connection copied to a connection
// dialled from here. Closed at cleanup.
func proxyInto(t *testing.T, ns *netns.NS, target string) string {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) { mu.Lock(); conns = append(conns, c); mu.Unlock() }
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			go func() {
				u, err := net.DialTimeout("tcp", target, 2*time.Second)
				if err != nil {
					c.Close()
					return
				}
				track(u)
				go func() { _, _ = io.Copy(u, c); u.Close() }()
				_, _ = io.Copy(c, u)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// aftrConfig is the configuration of one lwAFTR of the anycast set: no
// binding of its own, failover by mode against etcd, and the
// DHCPv4-over-DHCPv6 relay on the anycast address towards kea (the Kea
// pair's DHCPv6 address as this lwAFTR reaches it).
func aftrConfig(mode, intDev, extDev, extIP, intNH, extNH string, endpoints []string, kea string, extra string) string {
	var eps []string
	for _, e := range endpoints {
		eps = append(eps, fmt.Sprintf("%q", "http://"+e))
	}
	return fmt.Sprintf(`{"wirebeat-softwire:softwire": {"lwaftr": {
  "enabled": true,
  "external-interface": {"device": %q, "ip": %q, "next-hop": {"mac": %q}},
  "internal-interface": {"device": %q, "ip": "2001:db8:ac::1", "next-hop": {"mac": %q}},
  "failover": {"mode": %q, "anycast-address": "2001:db8:ac::1",%s
    "validation-source": {"type": "etcd", "query-timeout": 500, "etcd": {"endpoint": [%s]}},
    "dhcpv4-over-dhcpv6-relay": {"enabled": true, "server": [%q], "link-address": "2001:db8:b4::1", "interface-id": "b4-link"}}
}}}`, extDev, extIP, extNH, intDev, intNH, mode, extra, strings.Join(eps, ", "), kea)
}

// keaConfigs are a Kea pair in DHCPv4-over-DHCPv6 mode serving relayed
// B4s: kea-dhcp6 on a unicast address of each link to a lwAFTR (devs[i]
// with addrs[i]), the subnet picked by the relays' link-address, the S46
// container naming the anycast lwAFTR; kea-dhcp4 leasing 192.0.2.10 with
// psid-offset 6, psid-length 4, psid 5. kea-dhcp4 picks a 4o6 subnet by
// the source of the DHCPv6 message holding the query (the relaying
// lwAFTR: 2001:db8:f1::1 or 2001:db8:f2::1, in 4o6-subnet), which works
// with and without a relay agent between the lwB4 and the lwAFTR.
func keaConfigs(dir string, devs, addrs []string) (string, string) {
	var ifs []string
	for i := range devs {
		ifs = append(ifs, fmt.Sprintf("%q", devs[i]+"/"+addrs[i]))
	}
	v6 := fmt.Sprintf(`{"Dhcp6": {
  "interfaces-config": {"interfaces": [%s]},
  "lease-database": {"type": "memfile", "persist": true, "name": %q},
  "dhcp4o6-port": 6767,
  "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "7769726562656174", "persist": false},
  "subnet6": [{"subnet": "2001:db8:b4::/64", "relay": {"ip-addresses": ["2001:db8:b4::1"]},
    "option-data": [{"name": "s46-cont-lw", "always-send": true},
      {"space": "s46-cont-lw-options", "name": "s46-br", "data": "2001:db8:ac::1"}]}]
}}`, strings.Join(ifs, ", "), filepath.Join(dir, "dhcp6.leases"))
	v4 := fmt.Sprintf(`{"Dhcp4": {
  "interfaces-config": {"interfaces": [%q, %q], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "name": %q},
  "dhcp4o6-port": 6767,
  "valid-lifetime": 3600,
  "subnet4": [{"subnet": "192.0.2.0/24", "4o6-subnet": "2001:db8:f0::/44",
    "pools": [{"pool": "192.0.2.10 - 192.0.2.10"}],
    "option-data": [{"name": "v4-portparams", "csv-format": false, "always-send": true, "data": "06045000"}]}]
}}`, devs[0], devs[1], filepath.Join(dir, "dhcp4.leases"))
	return v6, v4
}

// startRouterRelay runs dnsmasq in ns as the DHCPv6 relay agent of the
// lwB4's link (its address there, 2001:db8:b4::1) towards the anycast
// address, until the test ends.
func startRouterRelay(t *testing.T, ns *netns.NS) {
	bin := testenv.Tool(t, "dnsmasq", "dnsmasq-base")
	cmd := ns.Command(bin, "--keep-in-foreground", "--log-facility=-", "--port=0", "--log-dhcp", "--no-resolv", "--no-hosts",
		"--conf-file=/dev/null", "--dhcp-relay=2001:db8:b4::1,2001:db8:ac::1")
	startLogged(t, "dnsmasq", cmd)
}

// startLogged starts cmd, a server, until the test ends; what it wrote
// is logged when the test failed.
func startLogged(t *testing.T, name string, cmd *exec.Cmd) {
	t.Helper()
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
}

// startKea runs kea-dhcp4 and kea-dhcp6 in ns until the test ends.
func startKea(t *testing.T, ns *netns.NS, dir string, devs, addrs []string) {
	k6 := testenv.Tool(t, "kea-dhcp6", "kea-dhcp6-server")
	k4 := testenv.Tool(t, "kea-dhcp4", "kea-dhcp4-server")
	v6, v4 := keaConfigs(dir, devs, addrs)
	for _, k := range []struct{ bin, name, conf string }{{k4, "kea4", v4}, {k6, "kea6", v6}} {
		path := filepath.Join(dir, k.name+".json")
		if err := os.WriteFile(path, []byte(k.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := ns.Command(k.bin, "-c", path)
		cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR="+dir)
		startLogged(t, k.name, cmd)
	}
}

// size of the download.
const size = lwtopo.Size

// downloadRate paces the download at the server, in bytes a second (about
// 8 s for size); lwtopo.Net.Serve says why the server paces it.
const downloadRate = 3_000_000

// liveNet is the topology of the live tests.
type liveNet struct {
	*lwtopo.Net
	rt                    *netns.NS
	r1, r2                string
	primary, backup, lwb4 *element.Element
	sub                   *element.Subscriber
	cluster               *etcdtest.Cluster
	dir                   string
}

const (
	stateFilter = `<softwire xmlns="urn:wirebeat:softwire"><lwaftr><failover><state/></failover></lwaftr></softwire>`
	relayFilter = `<softwire xmlns="urn:wirebeat:softwire"><lwaftr><failover><dhcpv4-over-dhcpv6-relay><state/></dhcpv4-over-dhcpv6-relay></failover></lwaftr></softwire>`
	dynFilter   = `<softwire xmlns="urn:wirebeat:softwire"><lwaftr><failover><dynamic-binding/></failover></lwaftr></softwire>`
	lwb4Filter  = `<softwire xmlns="urn:wirebeat:softwire"><lwb4/></softwire>`
)

// setupElements builds the topology of the live tests:
//
//	home ── lwB4 ── router ─┬─ primary lwAFTR ─┬─ Internet server
//	                        └─ backup lwAFTR  ─┘
//	        Kea pair (4o6) ── both lwAFTRs; 3-member etcd ── both lwAFTRs
//
// Every element is a `wirebeat run`. The router routes the anycast
// address 2001:db8:ac::1 to the primary (the test moves it, as a router
// would on failure). The lwB4 provisions by DHCPv4-over-DHCPv6 sent to
// the anycast address, so through the relay of the lwAFTR the router
// sends it to; that lwAFTR creates the binding and writes it to etcd.
// extra is added to both lwAFTRs' failover configuration.
//
// With routerRelay the lwB4 sends to All_DHCP_Relay_Agents_and_Servers on
// its link, as home gateways do, and the router relays (a real dnsmasq,
// --dhcp-relay) to the anycast address: the lwAFTR's relay relays for the
// router in turn (RFC 8415 §19.1.2). Otherwise the lwB4 sends to the
// anycast address itself (provisioning server-address).
func setupElements(t *testing.T, mode, extra string, routerRelay bool) *liveNet {
	tp := lwtopo.New(t, "f")
	b4ns, a1, a2, inet := tp.B4, tp.A1, tp.A2, tp.Inet
	rt, kea := netns.New(t, "fr"), netns.New(t, "fk")
	cluster := etcdtest.Start(t, 3)

	n := netns.Unique
	w, r0 := n("fw"), n("fr")
	r1, i1, r2, i2 := n("fr"), n("fi"), n("fr"), n("fi")
	k1, kk1, k2, kk2 := n("fk"), n("fk"), n("fk"), n("fk")
	netns.Veth(t, b4ns, w, rt, r0)
	netns.Veth(t, rt, r1, a1, i1)
	netns.Veth(t, rt, r2, a2, i2)
	netns.Veth(t, a1, k1, kea, kk1)
	netns.Veth(t, a2, k2, kea, kk2)
	// The lwAFTRs' kernels stay off the data-plane links (the elements
	// answer ARP and neighbour discovery themselves); they have IPv6 on
	// the link to Kea only, for the relay's server side.
	for _, c := range []struct {
		ns       *netns.NS
		int, mgt string
		addr     string
	}{{a1, i1, k1, "2001:db8:f1::1/64"}, {a2, i2, k2, "2001:db8:f2::1/64"}} {
		c.ns.Must(t, "sysctl", "-qw", "net.ipv6.conf."+c.int+".disable_ipv6=1")
		c.ns.Must(t, "ip", "-6", "addr", "add", c.addr, "dev", c.mgt, "nodad")
	}
	for i, d := range []string{kk1, kk2} {
		kea.Must(t, "ip", "-6", "addr", "flush", "dev", d, "scope", "link")
		kea.Must(t, "ip", "-6", "addr", "add", fmt.Sprintf("fe80::%d/64", i+2), "dev", d, "nodad")
		kea.Must(t, "ip", "-6", "addr", "add", fmt.Sprintf("2001:db8:f%d::2/64", i+1), "dev", d, "nodad")
	}
	// Kea's DHCPv4 side answers 4o6 queries only on an interface where
	// it has an IPv4 socket (the one kea-dhcp6 got the query on).
	kea.Addr(t, kk1, "10.99.0.1/24")
	kea.Addr(t, kk2, "10.99.1.1/24")

	// The router.
	rt.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	rt.Must(t, "ip", "-6", "addr", "add", "2001:db8:b4::1/64", "dev", r0, "nodad")
	rt.Must(t, "ip", "-6", "route", "add", lwtopo.Anycast+"/128", "dev", r1)
	provisioning := `{"server-address": "2001:db8:ac::1"}`
	if routerRelay {
		// The 4o6 client's socket is on the kernel's link-local
		// address, usable at once; the router's relay listens on its
		// address of the lwB4's link.
		b4ns.Must(t, "ip", "-6", "addr", "flush", "dev", w, "scope", "link")
		b4ns.Must(t, "ip", "-6", "addr", "add", "fe80::b4/64", "dev", w, "nodad")
		startRouterRelay(t, rt)
		provisioning = `{}`
	} else {
		// The lwB4's kernel has a global address on the WAN link for
		// the 4o6 client's socket (b4-ipv6 is the element's).
		b4ns.Must(t, "ip", "-6", "addr", "add", "2001:db8:b4::c/64", "dev", w, "nodad")
		b4ns.Must(t, "ip", "-6", "route", "add", "default", "via", "2001:db8:b4::1", "dev", w)
	}

	dir := t.TempDir()
	startKea(t, kea, dir, []string{kk1, kk2}, []string{"2001:db8:f1::2", "2001:db8:f2::2"})

	// The two lwAFTRs, each reaching etcd through proxies into its
	// namespace.
	var eps []string
	for _, m := range cluster.Members {
		eps = append(eps, strings.TrimPrefix(m.ClientURL, "http://"))
	}
	endpointsIn := func(ns *netns.NS) []string {
		var out []string
		for _, e := range eps {
			out = append(out, proxyInto(t, ns, e))
		}
		return out
	}
	primary := element.Start(t, a1, "primary", aftrConfig(mode, i1, tp.E1, lwtopo.External1, rt.MAC(t, r1), inet.MAC(t, tp.X1), endpointsIn(a1), "2001:db8:f1::2", extra), element.Options{Dir: dir})
	backup := element.Start(t, a2, "backup", aftrConfig(mode, i2, tp.E2, lwtopo.External2, rt.MAC(t, r2), inet.MAC(t, tp.X2), endpointsIn(a2), "2001:db8:f2::2", extra), element.Options{Dir: dir})
	sub := backup.Subscribe(t)
	lwb4 := element.Start(t, b4ns, "lwb4", fmt.Sprintf(`{"wirebeat-softwire:softwire": {"lwb4": {
  "enabled": true,
  "lan-interface": {"device": %q, "ipv4-address": "192.168.1.1"},
  "wan-interface": {"device": %q, "next-hop": "2001:db8:b4::1"},
  "b4-ipv6": "2001:db8:b4::b4",
  "provisioning": {"dhcpv4-over-dhcpv6": %s}
}}}`, tp.B0, w, provisioning), element.Options{Dir: dir})

	tp.Serve(t, func(*http.Request) (int, error) { return downloadRate, nil })
	l := &liveNet{Net: tp, rt: rt, r1: r1, r2: r2,
		primary: primary, backup: backup, lwb4: lwb4, sub: sub, cluster: cluster, dir: dir}
	waitFor(t, 60*time.Second, "the lwB4 provisioned through the primary's relay", func() bool {
		return element.Leaf(lwb4.Get(t, lwb4Filter), "provisioned") == "true"
	})
	waitFor(t, 30*time.Second, "HTTP through the primary", func() bool { return tp.Curl("2") })
	// The primary created the binding from the relayed DHCPACK; the
	// backup, which saw no DHCP, has it in its etcd-fed cache.
	rs := primary.Get(t, relayFilter)
	dyn := primary.Get(t, dynFilter)
	if num(rs, "bindings") < 1 || num(rs, "replied") < 3 || !strings.Contains(dyn, "<created-by>provisioned</created-by>") ||
		!strings.Contains(dyn, "<b4-ipv6>2001:db8:b4::b4</b4-ipv6>") {
		t.Fatalf("the primary's relay did not create the binding:\nrelay %s\ndynamic %s", rs, dyn)
	}
	waitFor(t, 30*time.Second, "the backup's cache to hold the binding the primary wrote", func() bool {
		return element.Leaf(backup.Get(t, stateFilter), "cached-bindings") == "1"
	})
	if bs := backup.Get(t, relayFilter); num(bs, "client-messages") != 0 {
		t.Fatalf("the backup relayed before any failover: %s", bs)
	}
	t.Logf("primary relay state: %s", rs)
	return l
}

// etcdLeaseTTL is the remaining TTL, in seconds, of the lease of the
// binding key of 192.0.2.10 psid 5 (etcdctl, as an operator would look).
func (l *liveNet) etcdLeaseTTL(t *testing.T) int {
	ctl := testenv.Tool(t, "etcdctl", "etcd-client")
	eps := strings.Join(l.cluster.Endpoints(), ",")
	out, err := exec.Command(ctl, "--endpoints", eps, "get", "/wirebeat/lwaftr/bindings/192.0.2.10/5", "-w", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("etcdctl get: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`"lease":(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the binding key has no lease: %s", out)
	}
	out, err = exec.Command(ctl, "--endpoints", eps, "lease", "timetolive", fmt.Sprintf("%x", mustAtoi(string(m[1])))).CombinedOutput()
	if err != nil {
		t.Fatalf("etcdctl lease timetolive: %v\n%s", err, out)
	}
	g := regexp.MustCompile(`granted with TTL\((\d+)s\)`).FindSubmatch(out)
	if g == nil {
		t.Fatalf("etcdctl lease timetolive: %s", out)
	}
	return mustAtoi(string(g[1]))
}

func mustAtoi(s string) int {
	var v int
	_, _ = fmt.Sscan(s, &v)
	return v
}

// moveRoutes moves the anycast route and the pool's route to the backup,
// as routers would when the primary stops answering.
func (l *liveNet) moveRoutes(t *testing.T) {
	l.rt.Must(t, "ip", "-6", "route", "replace", lwtopo.Anycast+"/128", "dev", l.r2)
	l.MovePool(t)
}

// fail SIGKILLs the primary and moves the routes to the backup.
func (l *liveNet) fail(t *testing.T) time.Time {
	killed := time.Now()
	l.primary.Kill()
	l.moveRoutes(t)
	return killed
}

// lwb4Decap is the lwB4's decap-bytes, over NETCONF.
func (l *liveNet) lwb4Decap(t *testing.T) int {
	return num(l.lwb4.Get(t, lwb4Filter), "decap-bytes")
}

// download starts the long download from the home namespace.
func (l *liveNet) download(t *testing.T) (*exec.Cmd, *syncbuf.Buffer) {
	dl := l.Home.Command("curl", "-sS", "-m", "60", "-o", filepath.Join(l.dir, "dl"), "-w", "%{size_download}", "http://203.0.113.7:8080/")
	var out syncbuf.Buffer
	dl.Stdout, dl.Stderr = &out, &out
	if err := dl.Start(); err != nil {
		t.Fatal(err)
	}
	return dl, &out
}

func num(xml, name string) int {
	var v int
	_, _ = fmt.Sscan(element.Leaf(xml, name), &v)
	return v
}

// TestLiveElementsDataPacketFailover: the lwB4 provisions through the
// primary's relay from the real Kea pair; the primary creates the binding
// and writes it to the 3-member etcd with the DHCP lease as its lease. A
// long curl download starts through the primary; the primary is
// SIGKILLed and the test moves the routes to the backup; the backup
// takes the B4 over by the data-packet trigger, validated from its
// etcd-fed cache, and the download completes. The backup's
// failover/state, read over NETCONF, shows the takeover, and its NETCONF
// subscriber got binding-created naming the backup.
func TestLiveElementsDataPacketFailover(t *testing.T) {
	l := setupElements(t, "data-packet-trigger", "", false)
	if ttl := l.etcdLeaseTTL(t); ttl != 3600 {
		t.Fatalf("the binding's etcd lease was granted for %d s, want Kea's lease time 3600 s", ttl)
	}
	dl, dlOut := l.download(t)
	waitFor(t, 20*time.Second, "4 MiB of the download through the primary", func() bool { return l.lwb4Decap(t) >= 4<<20 })
	killed := l.fail(t)
	t.Logf("primary SIGKILLed; routes moved to the backup")

	err := dl.Wait()
	if err != nil || dlOut.String() != fmt.Sprint(size) {
		st := l.backup.Get(t, stateFilter)
		t.Fatalf("the download did not survive the failover: %v %q\nlwB4: %s\nbackup state: %s", err, dlOut.String(), l.lwb4.Get(t, lwb4Filter), st)
	}
	t.Logf("download completed %v after the primary died", time.Since(killed).Round(time.Millisecond))

	st, dyn := l.backup.Get(t, stateFilter), l.backup.Get(t, dynFilter)
	t.Logf("backup failover/state: %s", st)
	// The first packet to reach the backup may be the B4's (validated
	// by a cache hit) or the server's (found in the cache by the inbound
	// path); either way from the etcd-fed cache.
	if num(st, "bindings-created") != 1 || num(st, "dynamic-binding-count") != 1 || element.Leaf(st, "in-service") != "true" ||
		element.Leaf(st, "reachable") != "true" || num(st, "cache-hits")+num(st, "inbound-triggers") < 1 {
		t.Fatalf("the backup's failover/state does not show a data-packet takeover from etcd:\n%s", st)
	}
	if !strings.Contains(dyn, "<b4-ipv6>2001:db8:b4::b4</b4-ipv6>") || !strings.Contains(dyn, "data-packet-validated") || !strings.Contains(dyn, "etcd") {
		t.Fatalf("the backup's dynamic-binding list: %s", dyn)
	}
	if bs := l.backup.Get(t, relayFilter); num(bs, "bindings") != 0 {
		t.Fatalf("the backup provisioned the B4 itself, the binding did not come from etcd: %s", bs)
	}
	waitFor(t, 10*time.Second, "binding-created at the backup's NETCONF subscriber", func() bool {
		return l.sub.Has("binding-created", "192.0.2.10", "2001:db8:b4::b4", "data-packet-validated", "10.2.0.1")
	})
	t.Logf("notification: %s", l.sub.Last("binding-created"))
}

// TestLiveElementsICMPv6Failover: the same elements in icmpv6-trigger
// mode. After the primary dies and the routes move, the backup answers
// the lwB4's packets with ICMPv6 Destination Unreachable code 5; the lwB4
// element provisions again, by DHCPv4-over-DHCPv6 to the anycast address,
// now routed to the backup: the backup's relay passes the exchange to the
// Kea pair and the DHCPACK makes the backup create the binding itself
// (created-by reprovisioned) and write it to etcd; new connections work.
// The time from the failure to the first working new connection is
// logged. Twice: with the lwB4 sending to the anycast address, and with
// the lwB4 multicasting on its link and the router relaying (dnsmasq).
func TestLiveElementsICMPv6Failover(t *testing.T) {
	t.Run("unicast", func(t *testing.T) { testICMPv6Failover(t, false) })
	t.Run("router-relay", func(t *testing.T) { testICMPv6Failover(t, true) })
}

func testICMPv6Failover(t *testing.T, routerRelay bool) {
	l := setupElements(t, "icmpv6-trigger", "", routerRelay)
	killed := l.fail(t)
	waitFor(t, 60*time.Second, "a new connection through the backup", func() bool { return l.Curl("2") })
	working := time.Since(killed)
	b4 := l.lwb4.Get(t, lwb4Filter)
	if num(b4, "reprovision-count") < 1 || num(b4, "reprovision-triggers") < 1 {
		t.Fatalf("the lwB4 did not provision again after ICMPv6 code 5:\n%s", b4)
	}
	reprov := "?"
	if at, err := time.Parse(time.RFC3339Nano, element.Leaf(b4, "last-provisioning-time")); err == nil {
		reprov = at.Sub(killed).Round(time.Millisecond).String()
	}
	t.Logf("ICMPv6 trigger: the lwB4 provisioned again through the backup's relay %s after the failure; new connections work %v after it (reprovision-count %s)",
		reprov, working.Round(time.Millisecond), element.Leaf(b4, "reprovision-count"))
	st, dyn, rs := l.backup.Get(t, stateFilter), l.backup.Get(t, dynFilter), l.backup.Get(t, relayFilter)
	t.Logf("backup failover/state: %s\nrelay: %s", st, rs)
	if num(st, "icmpv6-triggers-sent") < 1 || num(st, "bindings-created") != 1 || num(st, "dynamic-binding-count") != 1 {
		t.Fatalf("the backup's failover/state does not show the ICMPv6 takeover:\n%s", st)
	}
	if num(rs, "bindings") < 1 || num(rs, "client-messages") < 3 {
		t.Fatalf("the lwB4 did not provision through the backup's relay:\n%s", rs)
	}
	if !strings.Contains(dyn, "<b4-ipv6>2001:db8:b4::b4</b4-ipv6>") || !strings.Contains(dyn, "reprovisioned") {
		t.Fatalf("the backup's dynamic-binding list: %s", dyn)
	}
	waitFor(t, 10*time.Second, "binding-created at the backup's NETCONF subscriber", func() bool {
		return l.sub.Has("binding-created", "192.0.2.10", "reprovisioned", "10.2.0.1")
	})
}

const ncEditScript = `
import sys
from ncclient import manager
host, port, user, pw, cfg = sys.argv[1:6]
with manager.connect(host=host, port=int(port), username=user, password=pw, hostkey_verify=False,
                     allow_agent=False, look_for_keys=False, timeout=30) as m:
    print(m.edit_config(target="running", config=cfg))
`

// ncEdit merges cfg (a <config> element) into e's running configuration,
// by ncclient.
func ncEdit(t *testing.T, e *element.Element, cfg string) {
	t.Helper()
	host, port, _ := strings.Cut(e.NETCONF, ":")
	out, err := e.Command(element.Python, "-c", ncEditScript, host, port, "admin", element.Password, cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "<ok/>") {
		t.Fatalf("ncclient edit-config of %s: %v\n%s", e.Name, err, out)
	}
}

// ndpScript sends one neighbour solicitation for a target out of an
// interface (scapy) and prints NA when a neighbour advertisement for it
// comes back within 2 s.
const ndpScript = `
import sys
from scapy.all import Ether, IPv6, ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr, srp1, get_if_hwaddr
from scapy.layers.inet6 import in6_getnsma, in6_getnsmac
from socket import inet_pton, inet_ntop, AF_INET6
iface, target = sys.argv[1:3]
mac = get_if_hwaddr(iface)
ma = in6_getnsma(inet_pton(AF_INET6, target))
p = (Ether(src=mac, dst=in6_getnsmac(ma)) / IPv6(src="fe80::99", dst=inet_ntop(AF_INET6, ma), hlim=255) /
     ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=mac))
a = srp1(p, iface=iface, timeout=2, verbose=0)
print("NA" if a is not None and a.haslayer(ICMPv6ND_NA) and a[ICMPv6ND_NA].tgt == target else "NONE")
`

// ndpAnswers reports whether a neighbour solicitation for the anycast
// address, sent by the router out of dev, is answered.
func (l *liveNet) ndpAnswers(t *testing.T, dev string) bool {
	t.Helper()
	out, err := l.rt.Command("/usr/bin/python3", "-c", ndpScript, dev, "2001:db8:ac::1").CombinedOutput()
	if err != nil {
		t.Fatalf("scapy neighbour solicitation: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out)) == "NA"
}

const outOfService = `<config><softwire xmlns="urn:wirebeat:softwire"><lwaftr><failover><out-of-service>%v</out-of-service></failover></lwaftr></softwire></config>`

// TestLiveElementsDrain: the operator takes the primary out of service
// (failover/out-of-service over NETCONF) during a long download: it stops
// answering neighbour solicitations for the anycast address at once (a
// scapy probe from the router gets no advertisement; state says
// in-service false) but keeps forwarding the download, without a
// restart, while the route still points at it; the test then moves the
// routes, as the router would, the backup takes the B4 over from etcd by
// the data-packet trigger and the download completes without a break.
// Back in service, the primary answers again and still holds the binding
// it provisioned (it was never restarted).
func TestLiveElementsDrain(t *testing.T) {
	l := setupElements(t, "data-packet-trigger", "", false)
	if !l.ndpAnswers(t, l.r1) {
		t.Fatal("the primary does not answer neighbour solicitations for the anycast address in service")
	}
	dl, dlOut := l.download(t)
	waitFor(t, 20*time.Second, "2 MiB of the download through the primary", func() bool { return l.lwb4Decap(t) >= 2<<20 })
	ncEdit(t, l.primary, fmt.Sprintf(outOfService, true))
	drained := time.Now()
	if st := l.primary.Get(t, stateFilter); element.Leaf(st, "in-service") != "false" {
		t.Fatalf("the primary's state after out-of-service: %s", st)
	}
	if l.ndpAnswers(t, l.r1) {
		t.Fatal("the primary still answers neighbour solicitations for the anycast address out of service")
	}
	// Still forwarding for the B4 it holds.
	d0 := l.lwb4Decap(t)
	waitFor(t, 10*time.Second, "the drained primary to keep forwarding the download", func() bool { return l.lwb4Decap(t) >= d0+(1<<20) })
	t.Logf("out of service: the primary forwarded %d more bytes in %v before the routes moved",
		l.lwb4Decap(t)-d0, time.Since(drained).Round(time.Millisecond))
	l.moveRoutes(t)
	if err := dl.Wait(); err != nil || dlOut.String() != fmt.Sprint(size) {
		t.Fatalf("the download did not survive the drain: %v %q\nbackup state: %s", err, dlOut.String(), l.backup.Get(t, stateFilter))
	}
	st := l.backup.Get(t, stateFilter)
	if num(st, "bindings-created") != 1 || !strings.Contains(l.backup.Get(t, dynFilter), "data-packet-validated") {
		t.Fatalf("the backup did not take the B4 over: %s", st)
	}
	ncEdit(t, l.primary, fmt.Sprintf(outOfService, false))
	if st := l.primary.Get(t, stateFilter); element.Leaf(st, "in-service") != "true" {
		t.Fatalf("the primary's state back in service: %s", st)
	}
	if !l.ndpAnswers(t, l.r1) {
		t.Fatal("the primary does not answer neighbour solicitations back in service")
	}
	if dyn := l.primary.Get(t, dynFilter); !strings.Contains(dyn, "<created-by>provisioned</created-by>") {
		t.Fatalf("the primary lost its binding: it was restarted by the change of out-of-service: %s", dyn)
	}
}

// TestLiveElementsDrainOnShutdown: a primary with failover/drain-period
// 8 s gets SIGTERM during a long download: it goes out of service at once
// (no answer to a neighbour solicitation for the anycast address) and
// keeps forwarding for the drain period, so the download goes on through
// it until the test moves the routes (as the router would once the
// primary stopped answering); the backup takes the B4 over and the
// download completes; the primary exits after the drain period.
func TestLiveElementsDrainOnShutdown(t *testing.T) {
	l := setupElements(t, "data-packet-trigger", ` "drain-period": 8,`, false)
	dl, dlOut := l.download(t)
	waitFor(t, 20*time.Second, "2 MiB of the download through the primary", func() bool { return l.lwb4Decap(t) >= 2<<20 })
	if err := l.primary.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopping := time.Now()
	exited := l.primary.Exited()
	waitFor(t, 8*time.Second, "the stopping primary to stop answering for the anycast address", func() bool { return !l.ndpAnswers(t, l.r1) })
	d0 := l.lwb4Decap(t)
	waitFor(t, 8*time.Second, "the draining primary to keep forwarding", func() bool {
		select {
		case <-exited:
			t.Fatalf("the primary exited %v after SIGTERM, before forwarding more", time.Since(stopping))
		default:
		}
		return l.lwb4Decap(t) >= d0+(512<<10)
	})
	t.Logf("draining: %d more bytes through the primary %v after SIGTERM", l.lwb4Decap(t)-d0, time.Since(stopping).Round(time.Millisecond))
	l.moveRoutes(t)
	if err := dl.Wait(); err != nil || dlOut.String() != fmt.Sprint(size) {
		t.Fatalf("the download did not survive the drain: %v %q\nbackup state: %s", err, dlOut.String(), l.backup.Get(t, stateFilter))
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the primary did not exit after its drain period")
	}
	t.Logf("the primary exited %v after SIGTERM (drain-period 8 s)", time.Since(stopping).Round(time.Millisecond))
	if !strings.Contains(l.primary.Log(), "draining before stopping") {
		t.Fatalf("no drain in the primary's log:\n%s", l.primary.Log())
	}
	if st := l.backup.Get(t, stateFilter); num(st, "bindings-created") != 1 {
		t.Fatalf("the backup did not take the B4 over: %s", st)
	}
}
