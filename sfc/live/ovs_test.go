package live

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// ovs is an Open vSwitch (userspace datapath) running in a namespace.
type ovs struct {
	ns  *netns.NS
	dir string
}

func startOVS(t *testing.T, ns *netns.NS) *ovs {
	t.Helper()
	for _, tool := range []string{"ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl"} {
		testenv.Tool(t, tool, "openvswitch-switch")
	}
	schema := "/usr/share/openvswitch/vswitch.ovsschema"
	if _, err := os.Stat(schema); err != nil {
		testenv.Skip(t, "%s missing (openvswitch-switch)", schema)
	}
	o := &ovs{ns: ns, dir: t.TempDir()}
	o.run(t, "ovsdb-tool", "create", filepath.Join(o.dir, "conf.db"), schema)
	o.run(t, "ovsdb-server", filepath.Join(o.dir, "conf.db"), "--remote=punix:"+o.sock(), "--pidfile="+filepath.Join(o.dir, "ovsdb.pid"),
		"--unixctl="+filepath.Join(o.dir, "ovsdb.ctl"), "--detach", "--log-file="+filepath.Join(o.dir, "ovsdb.log"))
	t.Cleanup(func() { o.stop("ovsdb.pid") })
	o.vsctl(t, "--no-wait", "init")
	o.run(t, "ovs-vswitchd", "unix:"+o.sock(), "--pidfile="+filepath.Join(o.dir, "vswitchd.pid"),
		"--unixctl="+filepath.Join(o.dir, "vswitchd.ctl"), "--detach", "--log-file="+filepath.Join(o.dir, "vswitchd.log"))
	t.Cleanup(func() { o.stop("vswitchd.pid") })
	return o
}

func (o *ovs) sock() string { return filepath.Join(o.dir, "db.sock") }

func (o *ovs) cmd(name string, args ...string) *exec.Cmd {
	c := o.ns.Command(name, args...)
	c.Env = append(os.Environ(), "OVS_RUNDIR="+o.dir, "OVS_LOGDIR="+o.dir, "OVS_DBDIR="+o.dir, "OVS_SYSCONFDIR="+o.dir)
	return c
}

func (o *ovs) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := o.cmd(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (o *ovs) vsctl(t *testing.T, args ...string) string {
	return o.run(t, "ovs-vsctl", append([]string{"--db=unix:" + o.sock(), "--timeout=30"}, args...)...)
}

func (o *ovs) ofctl(t *testing.T, args ...string) string {
	t.Helper()
	// The bridge's management socket is OVS_RUNDIR/BRIDGE.mgmt.
	args[1] = "unix:" + filepath.Join(o.dir, args[1]+".mgmt")
	return o.run(t, "ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...)
}

// stop ends one daemon by its pid file (only the process this test
// started).
func (o *ovs) stop(pidfile string) {
	b, err := os.ReadFile(filepath.Join(o.dir, pidfile))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	}
}

// TestOVSHop: Open vSwitch, with its own NSH support (userspace datapath,
// VXLAN-GPE port, OpenFlow NSH fields), is the SF of map 20: the wirebeat
// boundary classifies and sends it the packet with SPI 20 and SI 255; OVS
// matches them, lowers SI to 254, decrements the NSH TTL and sends it
// back; wirebeat ends the map, removes the NSH and the server gets the
// packet.
func TestOVSHop(t *testing.T) {
	testenv.RequireRoot(t, "network namespaces")
	cli, srv, bnd, ons := netns.New(t, "ocli"), netns.New(t, "osrv"), netns.New(t, "obnd"), netns.New(t, "oovs")
	c0, c1, s0, s1, b0, o0 := netns.Unique("c0"), netns.Unique("c1"), netns.Unique("s0"), netns.Unique("s1"), netns.Unique("b0"), netns.Unique("o0")
	netns.Veth(t, cli, c0, bnd, c1)
	netns.Veth(t, srv, s0, bnd, s1)
	netns.Veth(t, bnd, b0, ons, o0)
	cli.Addr(t, c0, "192.168.30.2/24")
	bnd.Addr(t, c1, "192.168.30.1/24")
	srv.Addr(t, s0, "192.168.40.2/24")
	bnd.Addr(t, s1, "192.168.40.1/24")
	bnd.Addr(t, b0, "10.3.0.1/24")
	// OVS's userspace datapath reads the veth with AF_PACKET and checks the
	// outer UDP checksum: the sender must compute it, not leave it to an
	// offload that a veth never performs.
	testenv.Tool(t, "ethtool", "ethtool")
	bnd.Must(t, "ethtool", "-K", b0, "tx", "off")
	cli.Must(t, "ip", "route", "add", "default", "via", "192.168.30.1")
	srv.Must(t, "ip", "route", "add", "default", "via", "192.168.40.1")
	bnd.Must(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")

	o := startOVS(t, ons)
	// Underlay bridge holding the veth and the tunnel endpoint address;
	// the VXLAN-GPE port on a second bridge, as userspace tunnelling wants.
	ons.Must(t, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1") // only the bridge answers for its address
	o.vsctl(t, "add-br", "bru", "--", "set", "bridge", "bru", "datapath_type=netdev")
	o.vsctl(t, "add-port", "bru", o0)
	ons.Must(t, "ip", "link", "set", "bru", "up")
	ons.Addr(t, "bru", "10.3.0.2/24")
	o.vsctl(t, "add-br", "brt", "--", "set", "bridge", "brt", "datapath_type=netdev")
	o.vsctl(t, "add-port", "brt", "gpe0", "--", "set", "interface", "gpe0", "type=vxlan", "options:remote_ip=flow",
		"options:dst_port=4790", "options:exts=gpe", "options:packet_type=ptap", "options:key=0")
	o.ofctl(t, "add-flow", "brt", "table=0,in_port=gpe0,packet_type=(1,0x894f),nsh_spi=20,nsh_si=255,"+
		"actions=set_field:254->nsh_si,dec_nsh_ttl,set_field:10.3.0.1->tun_dst,in_port")

	rt := netns.Unique("wbrt")
	bnd.Must(t, "ip", "rule", "add", "iif", c1, "lookup", "100")
	e := startElement(t, bnd, `{"wirebeat-sfc:sfc": {
  "node": {"role": ["boundary", "classifier"], "boundary-node": ["10.3.0.1"], "routing-interface": "`+rt+`"},
  "encapsulation": {"local-address": "10.3.0.1"},
  "service-functions": {"service-function": [{"id": "ovs", "locator": [{"address": "10.3.0.2"}]}]},
  "sf-maps": {"sf-map": [{"index": 20, "service-function": ["ovs"], "egress-node": "10.3.0.1"}]},
  "classifier": {"rule": [{"name": "to-8000", "match": {"protocol": 17, "destination-port": {"lower": 8000}}, "sf-map-index": 20}]}
 }}`)
	bnd.Must(t, "ip", "route", "add", "default", "dev", rt, "table", "100")
	bnd.Must(t, "sysctl", "-qw", "net.ipv4.conf."+rt+".rp_filter=0")

	server := listenUDP(t, srv, net.IPv4(192, 168, 40, 2), 8000)
	client := listenUDP(t, cli, net.IPv4(192, 168, 30, 2), 0)
	// OVS learns the boundary's MAC by ARP on its first packet; send until
	// the server hears (bounded: a loaded machine may take seconds).
	buf := make([]byte, 256)
	got := 0
	for i := 0; i < 120 && got == 0; i++ {
		_, _ = client.WriteToUDP([]byte(fmt.Sprintf("via ovs %d", i)), &net.UDPAddr{IP: net.IPv4(192, 168, 40, 2), Port: 8000})
		_ = server.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if n, err := server.Read(buf); err == nil && strings.HasPrefix(string(buf[:n]), "via ovs") {
			got++
		}
	}
	if got == 0 {
		dp, _ := o.cmd("ovs-appctl", "-t", filepath.Join(o.dir, "vswitchd.ctl"), "dpctl/dump-flows").CombinedOutput()
		log, _ := os.ReadFile(filepath.Join(o.dir, "vswitchd.log"))
		t.Fatalf("nothing came back through OVS; flows:\n%s\ndatapath:\n%s\nvswitchd log:\n%s\nboundary:\n%s\n%s", o.ofctl(t, "dump-flows", "brt"), dp, log,
			regexp.MustCompile(`(?s)<counters><classified.*?</counters>`).FindString(sfcState(t, e)), bnd.Must(t, "ip", "neigh"))
	}
	flows := o.ofctl(t, "dump-flows", "brt")
	m := regexp.MustCompile(`n_packets=(\d+).*nsh_spi=0x14,nsh_si=255`).FindStringSubmatch(flows)
	if m == nil || m[1] == "0" {
		t.Fatalf("the OVS NSH flow did not match:\n%s", flows)
	}
	x := sfcState(t, e)
	if v := entryPackets(t, x, 20, 254); v == 0 {
		t.Fatalf("the boundary did not end map 20 with what OVS sent back:\n%s", x)
	}
	t.Logf("OVS NSH flow matched %s packets; boundary decapsulated %d at SI 254", m[1], entryPackets(t, x, 20, 254))
}
