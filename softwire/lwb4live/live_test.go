package lwb4live

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/element"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/syncbuf"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// TestLiveLwB4ThroughLwAFTR: home ── lwB4 (wirebeat) ── lwAFTR (wirebeat)
// ── server. curl from the home namespace fetches a page from the server;
// the server sees the lwB4's public address and a port of its PSID; the
// lwB4's state over NETCONF shows the binding and the traffic.
func TestLiveLwB4ThroughLwAFTR(t *testing.T) { throughLwAFTR(t, false, false) }

// TestLiveLwB4ICMPv6Trigger: the lwAFTR (as a backup in icmpv6-trigger
// failover mode) has no binding for the lwB4: it answers the lwB4's
// packets with ICMPv6 Destination Unreachable code 5, and the lwB4
// element provisions again, as its NETCONF state and log say.
func TestLiveLwB4ICMPv6Trigger(t *testing.T) { throughLwAFTR(t, false, true) }

// TestLiveLwB4Kea4o6: the same with the lwB4 provisioned by
// DHCPv4-over-DHCPv6 from a real ISC Kea pair (kea-dhcp6 and kea-dhcp4 in
// 4o6 mode) on the lwAFTR's segment: the lease gives the address, the
// port set (RFC 7618 port parameters) and the BR (S46 container).
func TestLiveLwB4Kea4o6(t *testing.T) { throughLwAFTR(t, true, false) }

// keaConfigs are the DHCPv6 and DHCPv4 sides of a Kea pair in
// DHCPv4-over-DHCPv6 mode on ifname, leasing 192.0.2.10 with psid-offset
// 6, psid-length 4, psid 5 and the BR 2001:db8:ac::1.
func keaConfigs(dir, ifname string) (string, string) {
	v6 := fmt.Sprintf(`{"Dhcp6": {
  "interfaces-config": {"interfaces": [%q]},
  "lease-database": {"type": "memfile", "persist": true, "name": %q},
  "dhcp4o6-port": 6767,
  "server-id": {"type": "LL", "persist": false},
  "subnet6": [{"subnet": "2001:db8:b4::/64", "interface": %q,
    "option-data": [{"name": "s46-cont-lw", "always-send": true},
      {"space": "s46-cont-lw-options", "name": "s46-br", "data": "2001:db8:ac::1"}]}]
}}`, ifname, filepath.Join(dir, "dhcp6.leases"), ifname)
	v4 := fmt.Sprintf(`{"Dhcp4": {
  "interfaces-config": {"interfaces": [%q], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "name": %q},
  "dhcp4o6-port": 6767,
  "valid-lifetime": 3600,
  "subnet4": [{"subnet": "192.0.2.0/24", "4o6-interface": %q, "4o6-subnet": "2001:db8:b4::/64",
    "pools": [{"pool": "192.0.2.10 - 192.0.2.10"}],
    "option-data": [{"name": "v4-portparams", "csv-format": false, "always-send": true, "data": "06045000"}]}]
}}`, ifname, filepath.Join(dir, "dhcp4.leases"), ifname)
	return v6, v4
}

func startKea(t *testing.T, ns *netns.NS, dir, ifname string) {
	k6 := testenv.Tool(t, "kea-dhcp6", "kea-dhcp6-server")
	k4 := testenv.Tool(t, "kea-dhcp4", "kea-dhcp4-server")
	v6, v4 := keaConfigs(dir, ifname)
	for _, k := range []struct{ bin, name, conf string }{{k4, "kea4", v4}, {k6, "kea6", v6}} {
		path := filepath.Join(dir, k.name+".json")
		if err := os.WriteFile(path, []byte(k.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := ns.Command(k.bin, "-c", path)
		cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR="+dir)
		out := &syncbuf.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s output:\n%s", k.name, out.String())
			}
		})
	}
}

func throughLwAFTR(t *testing.T, dhcp, noBinding bool) {
	testenv.Tool(t, "curl", "curl")
	testenv.Tool(t, "ethtool", "ethtool")
	home, b4ns, aftr, inet := netns.New(t, "lh"), netns.New(t, "lb"), netns.New(t, "la"), netns.New(t, "li")
	n := netns.Unique
	h0, b0, w, i, e, x := n("lh"), n("lb"), n("lw"), n("li"), n("le"), n("lx")
	netns.Veth(t, home, h0, b4ns, b0)
	netns.Veth(t, b4ns, w, aftr, i)
	netns.Veth(t, aftr, e, inet, x)
	// The kernels of the element namespaces stay out of the way: the
	// elements answer ARP and neighbour discovery themselves. With
	// DHCPv4-over-DHCPv6 the kernels keep only link-local addresses on the
	// lwB4's WAN segment (the client's and Kea's sockets), and Kea's side
	// an address of the 4o6 subnet and an IPv4 one, which it needs.
	dir := t.TempDir()
	provisioning := `{"static": {"ipv4": "192.0.2.10", "psid": 5, "psid-offset": 6, "psid-length": 4}}`
	br := `
  "br-address": "2001:db8:ac::1",`
	if dhcp {
		for _, c := range []struct {
			ns  *netns.NS
			dev string
			ll  string
		}{{b4ns, w, "fe80::b4"}, {aftr, i, "fe80::1"}} {
			c.ns.Must(t, "ip", "-6", "addr", "flush", "dev", c.dev, "scope", "link")
			c.ns.Must(t, "ip", "-6", "addr", "add", c.ll+"/64", "dev", c.dev, "nodad")
		}
		aftr.Must(t, "ip", "-6", "addr", "add", "2001:db8:b4::1/64", "dev", i, "nodad")
		aftr.Addr(t, i, "10.99.0.1/24")
		startKea(t, aftr, dir, i)
		provisioning, br = `{"dhcpv4-over-dhcpv6": {}}`, "" // the BR comes from Kea
	} else {
		for _, ns := range []*netns.NS{b4ns, aftr} {
			ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
		}
	}
	home.Addr(t, h0, "192.168.1.100/24")
	home.Must(t, "ip", "link", "set", h0, "mtu", "1400")
	home.Must(t, "ip", "route", "add", "default", "via", "192.168.1.1")
	inet.Must(t, "ip", "addr", "add", "203.0.113.7/32", "dev", "lo")
	inet.Addr(t, x, "10.1.0.254/24")
	inet.Must(t, "ip", "route", "add", "192.0.2.0/24", "via", "10.1.0.1")
	// veth leaves TCP checksums to "hardware": frames an element reads
	// would carry them unfinished into the tunnel.
	inet.Must(t, "ethtool", "-K", x, "tx", "off")
	home.Must(t, "ethtool", "-K", h0, "tx", "off")

	bindings := `"binding-table": {"softwire": [{"ipv4": "192.0.2.10", "psid": 5, "b4-ipv6": "2001:db8:b4::b4",
    "br-address": "2001:db8:ac::1", "port-set": {"psid-offset": 6, "psid-length": 4}}]}`
	if noBinding {
		bindings = `"failover": {"mode": "icmpv6-trigger", "anycast-address": "2001:db8:ac::1"}`
	}
	opt := element.Options{Dir: dir}
	element.Start(t, aftr, "lwaftr", fmt.Sprintf(`{"wirebeat-softwire:softwire": {"lwaftr": {
  "enabled": true,
  "external-interface": {"device": %q, "ip": "10.1.0.1", "next-hop": {"mac": %q}},
  "internal-interface": {"device": %q, "ip": "2001:db8:ac::1", "next-hop": {"mac": %q}},
  %s
}}}`, e, inet.MAC(t, x), i, b4ns.MAC(t, w), bindings), opt)
	b4 := element.Start(t, b4ns, "lwb4", fmt.Sprintf(`{"wirebeat-softwire:softwire": {"lwb4": {
  "enabled": true,
  "lan-interface": {"device": %q, "ipv4-address": "192.168.1.1"},
  "wan-interface": {"device": %q},
  "b4-ipv6": "2001:db8:b4::b4",%s
  "provisioning": %s
}}}`, b0, w, br, provisioning), opt)

	if noBinding {
		start := time.Now()
		var st string
		element.WaitFor(t, 30*time.Second, "the lwB4 to provision again after ICMPv6 code 5", func() bool {
			// Each curl's SYN goes into the softwire and draws the error.
			_ = home.Command("curl", "-sS", "-m", "1", "-o", "/dev/null", "http://203.0.113.7:8080/").Run()
			st = b4.Get(t, `<softwire xmlns="urn:wirebeat:softwire"><lwb4/></softwire>`)
			return element.Leaf(st, "reprovision-count") != "" && element.Leaf(st, "reprovision-count") != "0"
		})
		if element.Leaf(st, "reprovision-triggers") == "0" || !strings.Contains(b4.Log(), "provisioning again") {
			t.Fatalf("reprovisioned without a counted trigger or a log line:\n%s", st)
		}
		t.Logf("lwB4 provisioned again %v after its first packet (reprovision-count %s, triggers %s)",
			time.Since(start).Round(time.Millisecond), element.Leaf(st, "reprovision-count"), element.Leaf(st, "reprovision-triggers"))
		return
	}
	var ln net.Listener
	if err := inet.Do(func() (err error) { ln, err = net.Listen("tcp", "203.0.113.7:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var remotes []string
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes = append(remotes, r.RemoteAddr)
		mu.Unlock()
		_, _ = rw.Write(bytes.Repeat([]byte("wirebeat "), 20000))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	var out []byte
	element.WaitFor(t, 30*time.Second, "curl through the lwB4 and the lwAFTR", func() bool {
		var err error
		out, err = home.Command("curl", "-sS", "-m", "3", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
			"http://203.0.113.7:8080/").CombinedOutput()
		return err == nil && string(out) == "200 180000"
	})
	mu.Lock()
	last := remotes[len(remotes)-1]
	mu.Unlock()
	ap, err := netip.ParseAddrPort(last)
	if err != nil {
		t.Fatal(err)
	}
	// psid-offset 6, psid-length 4: the PSID is bits 9..6 of the port,
	// and the top 6 bits are not all zero.
	if ap.Addr().String() != "192.0.2.10" || (ap.Port()>>6)&0xf != 5 || ap.Port()>>10 == 0 {
		t.Fatalf("the server saw %s, want 192.0.2.10 with a port of psid 5", last)
	}
	st := b4.Get(t, `<softwire xmlns="urn:wirebeat:softwire"><lwb4/></softwire>`)
	if element.Leaf(st, "provisioned") != "true" || element.Leaf(st, "ipv4") != "192.0.2.10" || element.Leaf(st, "psid") != "5" ||
		element.Leaf(st, "br-address") != "2001:db8:ac::1" {
		t.Fatalf("lwb4 state:\n%s", st)
	}
	if dhcp {
		// The binding is Kea's lease, not a guess.
		b, _ := os.ReadFile(filepath.Join(dir, "dhcp4.leases"))
		if !strings.Contains(string(b), "192.0.2.10") {
			t.Fatalf("Kea's lease file does not hold 192.0.2.10:\n%s", b)
		}
		if element.Leaf(st, "last-provisioning-time") == "" {
			t.Fatalf("no last-provisioning-time:\n%s", st)
		}
	}
	var encap, decap int
	_, _ = fmt.Sscan(element.Leaf(st, "encap-packets"), &encap)
	_, _ = fmt.Sscan(element.Leaf(st, "decap-packets"), &decap)
	if encap == 0 || decap < 100 {
		t.Fatalf("encap-packets %d, decap-packets %d:\n%s", encap, decap, st)
	}
	t.Logf("curl %s through the lwB4 (server saw %s); lwB4 encap %d decap %d packets", out, last, encap, decap)
}
