package dslitelive

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire"
	"github.com/wirebeat/wirebeat/softwire/aftrname"
	"github.com/wirebeat/wirebeat/tools/dnsmasq"
	"github.com/wirebeat/wirebeat/tools/element"
	"github.com/wirebeat/wirebeat/tools/kea"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/syncbuf"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// openPorts are the packet ports the subsystems opened, for the packet
// I/O counters in a failure message.
type openPorts struct {
	mu    sync.Mutex
	ports []namedPort
}

type namedPort struct {
	ns, dev string
	p       pktio.Port
}

func (o *openPorts) add(ns, dev string, p pktio.Port) {
	o.mu.Lock()
	o.ports = append(o.ports, namedPort{ns, dev, p})
	o.mu.Unlock()
}

func (o *openPorts) list() []namedPort {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]namedPort(nil), o.ports...)
}

func (o *openPorts) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	for _, np := range o.ports {
		fmt.Fprintf(&b, "port %s/%s (%s): %+v\n", np.ns, np.dev, np.p.Driver(), np.p.Stats())
	}
	return b.String()
}

// inNS makes a subsystem whose devices are those of namespace ns.
func inNS(ns *netns.NS, name string, rec events.Sink, ports *openPorts) *softwire.DSLiteSubsystem {
	s := softwire.NewDSLiteSubsystem(softwire.DSLiteOptions{
		Open: func(dev string) (softwire.DSLitePort, error) {
			var p pktio.Port
			err := ns.Do(func() (err error) { p, err = pktio.Open(dev, pktio.Config{}); return err })
			if err == nil {
				ports.add(name, dev, p)
			}
			return p, err
		},
		DeviceMAC: func(dev string) (m [6]byte, err error) {
			err = ns.Do(func() error {
				ifc, err := net.InterfaceByName(dev)
				if err == nil {
					copy(m[:], ifc.HardwareAddr)
				}
				return err
			})
			return m, err
		},
		Discover: func(ctx context.Context, dev string) (r aftrname.Result, err error) {
			err = ns.Do(func() (err error) { r, err = aftrname.Discover(ctx, dev); return err })
			return r, err
		},
	})
	s.Attach(rec)
	return s
}

type recorder struct {
	mu sync.Mutex
	ev []events.Event
}

func (r *recorder) Publish(e events.Event) { r.mu.Lock(); r.ev = append(r.ev, e); r.mu.Unlock() }

func (r *recorder) find(name string) (events.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.ev {
		if e.Name == name {
			return e, true
		}
	}
	return events.Event{}, false
}

func leaf(e events.Event, name string) string {
	for _, l := range e.Leaves {
		if l.Name == name {
			return fmt.Sprint(l.Value)
		}
	}
	return ""
}

func commit(t *testing.T, s *softwire.DSLiteSubsystem, cfg *gen.Device) {
	t.Helper()
	cs := schema.NewChangeSet(&gen.Device{}, cfg, s.Owns())
	if err := s.Prepare(cs); err != nil {
		t.Fatal(err)
	}
	s.Apply(cs)
}

func state(t *testing.T, s *softwire.DSLiteSubsystem) *gen.Device {
	t.Helper()
	root := &gen.Device{}
	if err := s.State(root, nil); err != nil {
		t.Fatal(err)
	}
	return root
}

const (
	aftr1Addr = "2001:db8:1::a1"
	aftr2Addr = "2001:db8:1::a2"
	server    = "203.0.113.10"
	aftrName  = "aftr.example.net"
)

func profile(d *gen.Device) {
	p := d.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("sw")
	p.DesiredMinTxInterval, p.RequiredMinRxInterval, p.DetectionMultiplier = ygot.Uint32(300_000), ygot.Uint32(300_000), ygot.Uint8(3)
}

func aftrConfig(in, ext, endpoint, extAddr, pool string) *gen.Device {
	d := &gen.Device{}
	profile(d)
	a := d.GetOrCreateSoftwire().GetOrCreateAftr()
	a.Enabled, a.InternalDevice, a.ExternalDevice = ygot.Bool(true), ygot.String(in), ygot.String(ext)
	a.TunnelEndpoint, a.ExternalAddress, a.ExternalNextHop = ygot.String(endpoint), ygot.String(extAddr), ygot.String("192.0.2.1")
	a.B4Prefix = []string{"2001:db8:1::/64"}
	n := a.GetOrCreateNat44()
	n.GetOrCreatePool(pool)
	n.PortBlockSize = ygot.Uint16(64)
	a.GetOrCreateBfd().Enabled, a.GetOrCreateBfd().Profile = ygot.Bool(true), ygot.String("sw")
	return d
}

func b4Config(wan, lan, addr string, aftrs map[string]uint8, discover bool) *gen.Device {
	d := &gen.Device{}
	profile(d)
	b := d.GetOrCreateSoftwire().GetOrCreateB4()
	b.Enabled, b.WanDevice, b.LanDevice = ygot.Bool(true), ygot.String(wan), ygot.String(lan)
	b.B4Address, b.LanAddress = ygot.String(addr), ygot.String("192.168.1.1")
	for a, pref := range aftrs {
		b.GetOrCreateAftr(a).Preference = ygot.Uint8(pref)
	}
	b.DiscoverAftr = ygot.Bool(discover)
	b.GetOrCreateBfd().Enabled, b.GetOrCreateBfd().Profile = ygot.Bool(true), ygot.String("sw")
	s := d.GetOrCreateBfd().GetOrCreateSoftwire().GetOrCreateSession(addr)
	s.Role, s.AftrAddress = gen.WirebeatBfd_Bfd_Softwire_Session_Role_b4, ygot.String(aftr1Addr)
	return d
}

// TestDSLiteEndToEnd is the test: home hosts with the same
// private address behind two B4s, one with a configured AFTR list, one
// that discovers its AFTR by DHCPv6 (Kea) and DNS (dnsmasq); two AFTRs
// with their own pools; a server on the Internet side; curl, a UDP
// exchange and iperf3 across; BFD inside the tunnels; AFTR1's link goes
// down and the B4 moves to AFTR2.
func TestDSLiteEndToEnd(t *testing.T) {
	testenv.RequireRoot(t, "DS-Lite end-to-end test with network namespaces")
	tp := buildTopo(t)
	ns, dev, acc, inet, curl, iperf := tp.ns, tp.dev, tp.ns["acc"], tp.ns["inet"], tp.curl, tp.iperf
	rec := map[string]*recorder{}
	sub := map[string]*softwire.DSLiteSubsystem{}
	ports := &openPorts{}
	for _, n := range []string{"aft1", "aft2", "b41", "b42"} {
		rec[n] = &recorder{}
		sub[n] = inNS(ns[n], n, rec[n], ports)
		defer sub[n].Close()
	}
	commit(t, sub["aft1"], aftrConfig(dev["i1"], dev["e1"], aftr1Addr, "192.0.2.11", "198.51.100.0/28"))
	commit(t, sub["aft2"], aftrConfig(dev["i2"], dev["e2"], aftr2Addr, "192.0.2.12", "198.51.100.16/28"))
	commit(t, sub["b41"], b4Config(dev["w1"], dev["l1"], "2001:db8:1::b1", map[string]uint8{aftr1Addr: 10, aftr2Addr: 20}, false))
	commit(t, sub["b42"], b4Config(dev["w2"], dev["l2"], "2001:db8:1::b2", nil, true))

	aftrOf := func(b4 string, addr string) *gen.WirebeatSoftwire_Softwire_B4_Aftr_State {
		return state(t, sub[b4]).GetSoftwire().GetB4().GetAftr(addr).GetState()
	}
	t.Run("bfd-up-in-tunnels", func(t *testing.T) {
		element.WaitFor(t, 30*time.Second, "BFD up from B4-1 to both AFTRs", func() bool {
			return aftrOf("b41", aftr1Addr).GetBfdState() == gen.WirebeatSoftwire_BfdState_up &&
				aftrOf("b41", aftr2Addr).GetBfdState() == gen.WirebeatSoftwire_BfdState_up
		})
		bfdUp := func(s *softwire.DSLiteSubsystem, b4 string) bool {
			root := state(t, s)
			return root.GetSoftwire().GetAftr().GetActiveB4(b4).GetBfdState() == gen.WirebeatSoftwire_BfdState_up ||
				root.GetSoftwire().GetAftr().GetCounters().GetBfdSessionsUp() > 0
		}
		element.WaitFor(t, 30*time.Second, "AFTR1 passive session with B4-1 up", func() bool { return bfdUp(sub["aft1"], "2001:db8:1::b1") })
	})
	t.Run("discovery", func(t *testing.T) {
		element.WaitFor(t, 60*time.Second, "B4-2 discovers its AFTR", func() bool {
			st := state(t, sub["b42"]).GetSoftwire().GetB4().GetState()
			return st.GetAftrName() == aftrName && st.GetActiveAftr() != ""
		})
		st := state(t, sub["b42"]).GetSoftwire().GetB4().GetState()
		t.Logf("B4-2 discovered %s = %v, active %s", st.GetAftrName(), st.DiscoveredAddress, st.GetActiveAftr())
		if st.GetActiveAftr() != aftr1Addr {
			t.Fatalf("B4-2 on %s, want the lower address %s", st.GetActiveAftr(), aftr1Addr)
		}
	})

	// The server: HTTP and UDP echo, iperf3.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte(strings.Repeat("wirebeat ds-lite\n", 20000)), 0o644); err != nil {
		t.Fatal(err)
	}
	httpLog := startServer(t, inet, "/usr/bin/python3", "-u", "-m", "http.server", "8080", "--bind", server, "--directory", dir)
	udpLog := startServer(t, inet, "/usr/bin/python3", "-u", "-c", udpEcho, server, "9999")
	startServer(t, inet, iperf, "-s", "-B", server, "-p", "5201")
	element.WaitFor(t, 10*time.Second, "servers listening", func() bool {
		return strings.Contains(httpLog.String(), "Serving HTTP") && strings.Contains(udpLog.String(), "ready")
	})

	get := func(t *testing.T, home string) {
		t.Helper()
		out, err := ns[home].Command(curl, "-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
			"http://"+server+":8080/file").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "200 340000") {
			t.Fatalf("curl from %s: %v %s\n%s%s%s", home, err, out, engineState(t, sub), ports, published(rec))
		}
	}
	t.Run("http-same-private-address-two-b4s", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, h := range []string{"hom1", "hom2"} {
			wg.Add(1)
			go func() { defer wg.Done(); get(t, h) }()
		}
		wg.Wait()
		clients := regexp.MustCompile(`(?m)^(\S+) - - .*"GET /file`).FindAllStringSubmatch(httpLog.String(), -1)
		seen := map[string]bool{}
		for _, c := range clients {
			a := netip.MustParseAddr(c[1])
			if !netip.MustParsePrefix("198.51.100.0/28").Contains(a) {
				t.Fatalf("server saw %s, not an AFTR1 pool address", a)
			}
			seen[c[1]] = true
		}
		if len(clients) != 2 {
			t.Fatalf("server log: %q", httpLog.String())
		}
		root := state(t, sub["aft1"]).GetSoftwire().GetAftr()
		if len(root.ActiveB4) != 2 {
			t.Fatalf("AFTR1 active B4s: %d", len(root.ActiveB4))
		}
		t.Logf("server saw %v", seen)
	})
	t.Run("udp", func(t *testing.T) {
		out, err := ns["hom1"].Command("/usr/bin/python3", "-c", udpClient, server, "9999").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "echo ok") {
			t.Fatalf("UDP exchange: %v %s", err, out)
		}
	})
	t.Run("iperf3-tcp", func(t *testing.T) {
		out, err := ns["hom1"].Command(iperf, "-c", server, "-p", "5201", "-t", "3", "-f", "m").CombinedOutput()
		if err != nil {
			t.Fatalf("iperf3: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`([\d.]+) Mbits/sec\s+\d*\s*receiver`).FindStringSubmatch(string(out))
		if m == nil {
			m = regexp.MustCompile(`([\d.]+) Mbits/sec.*receiver`).FindStringSubmatch(string(out))
		}
		if m == nil {
			t.Fatalf("no throughput in:\n%s", out)
		}
		t.Logf("iperf3 TCP home1 -> Internet through B4 and AFTR1: %s Mbit/s", m[1])
	})
	t.Run("bad-input", func(t *testing.T) {
		before := state(t, sub["aft1"]).GetSoftwire().GetAftr().GetCounters()
		out, err := acc.Command("/usr/bin/python3", "-c", badInput, "br0", aftr1Addr).CombinedOutput()
		if err != nil {
			t.Fatalf("scapy: %v\n%s", err, out)
		}
		element.WaitFor(t, 10*time.Second, "AFTR1 counts the bad packets", func() bool {
			c := state(t, sub["aft1"]).GetSoftwire().GetAftr().GetCounters()
			return c.GetDroppedIpv6Packets() >= before.GetDroppedIpv6Packets()+2
		})
		get(t, "hom1") // still forwarding
	})
	t.Run("failover-link-down", func(t *testing.T) {
		ns["aft1"].Must(t, "ip", "link", "set", dev["i1"], "down")
		start := time.Now()
		element.WaitFor(t, 30*time.Second, "B4-1 on AFTR2", func() bool {
			return state(t, sub["b41"]).GetSoftwire().GetB4().GetState().GetActiveAftr() == aftr2Addr
		})
		took := time.Since(start)
		t.Logf("failover after AFTR1's link went down: %v (detection time 900 ms)", took)
		if took > 900*time.Millisecond+5*time.Second {
			t.Fatalf("failover took %v", took)
		}
		ev, ok := rec["b41"].find("aftr-failover")
		for _, e := range rec["b41"].ev {
			if e.Name == "aftr-failover" && leaf(e, "to-aftr") == aftr2Addr {
				ev, ok = e, true
			}
		}
		if !ok || leaf(ev, "from-aftr") != aftr1Addr || leaf(ev, "reason") != "bfd-down" {
			t.Fatalf("aftr-failover %+v", ev)
		}
		element.WaitFor(t, 10*time.Second, "AFTR1 reports B4-1 unreachable", func() bool {
			_, ok := rec["aft1"].find("b4-unreachable")
			return ok
		})
		u, _ := rec["aft1"].find("b4-unreachable")
		t.Logf("b4-unreachable: %+v", u.Leaves)
		httpLog.Reset()
		get(t, "hom1")
		if !strings.Contains(httpLog.String(), "198.51.100.") || !regexp.MustCompile(`198\.51\.100\.(1[6-9]|2\d|3[01]) `).MatchString(httpLog.String()) {
			t.Fatalf("after failover the server saw: %q", httpLog.String())
		}
		c := state(t, sub["aft2"]).GetSoftwire().GetAftr().GetCounters()
		if c.GetNatSessions() == 0 {
			t.Fatal("AFTR2 has no NAT session after the failover")
		}
	})
	// Rings that filled up (iperf3) must not have sent a reader's cursor
	// astray (it once went round into blocks it still held, then spun in
	// poll while the kernel filled other blocks: BFD packets a ring late,
	// BFD down, the flow moved between AFTRs mid-transfer).
	for _, np := range ports.list() {
		if s := np.p.Stats(); s.RxResyncs != 0 {
			t.Errorf("port %s/%s: receive cursor resynchronised %d times: %+v", np.ns, np.dev, s.RxResyncs, s)
		}
	}
	t.Logf("packet I/O at the end:\n%s", ports)
}

// published lists what the engines published (failovers, B4s lost, port
// blocks), for a failure message.
func published(rec map[string]*recorder) string {
	var b strings.Builder
	for _, n := range []string{"aft1", "aft2", "b41", "b42"} {
		r := rec[n]
		r.mu.Lock()
		for _, e := range r.ev {
			fmt.Fprintf(&b, "event %s: %s", n, e.Name)
			for _, l := range e.Leaves {
				fmt.Fprintf(&b, " %s=%v", l.Name, l.Value)
			}
			b.WriteByte('\n')
		}
		r.mu.Unlock()
	}
	return b.String()
}

// engineState is every engine's state tree (counters of the AFTRs and
// B4s, NAT sessions, AFTR status), for a failure message: a transfer
// that stalls says where its packets went.
func engineState(t *testing.T, sub map[string]*softwire.DSLiteSubsystem) string {
	t.Helper()
	var b strings.Builder
	for _, n := range []string{"aft1", "aft2", "b41", "b42"} {
		root := &gen.Device{}
		if err := sub[n].State(root, nil); err != nil {
			fmt.Fprintf(&b, "%s: state: %v\n", n, err)
			continue
		}
		if root.Softwire == nil {
			fmt.Fprintf(&b, "%s: no softwire state\n", n)
			continue
		}
		m, err := ygot.ConstructIETFJSON(root.Softwire, nil)
		if err != nil {
			fmt.Fprintf(&b, "%s: state: %v\n", n, err)
			continue
		}
		j, _ := json.Marshal(m)
		fmt.Fprintf(&b, "%s state: %s\n", n, j)
	}
	return b.String()
}

// topo is the namespaces and veths of the DS-Lite tests (names from
// tools/netns): homes hom1/hom2 behind B4s b41/b42, the access segment
// acc (a bridge, with Kea and dnsmasq), AFTRs aft1/aft2, and inet (the
// server's router, pools routed to the AFTRs).
type topo struct {
	ns          map[string]*netns.NS
	dev         map[string]string
	curl, iperf string
}

func buildTopo(t *testing.T) *topo {
	t.Helper()
	names := []string{"hom1", "hom2", "b41", "b42", "acc", "aft1", "aft2", "inet"}
	ns := map[string]*netns.NS{}
	for _, n := range names {
		ns[n] = netns.New(t, n)
		ns[n].Must(t, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
		ns[n].Must(t, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
	}
	dev := map[string]string{}
	for _, d := range []string{"h1", "l1", "h2", "l2", "w1", "a1", "w2", "a2", "i1", "a3", "i2", "a4", "e1", "x1", "e2", "x2"} {
		dev[d] = netns.Unique(d)
	}
	pairs := [][4]string{{"hom1", "h1", "b41", "l1"}, {"hom2", "h2", "b42", "l2"},
		{"b41", "w1", "acc", "a1"}, {"b42", "w2", "acc", "a2"}, {"aft1", "i1", "acc", "a3"}, {"aft2", "i2", "acc", "a4"},
		{"aft1", "e1", "inet", "x1"}, {"aft2", "e2", "inet", "x2"}}
	for _, p := range pairs {
		netns.Veth(t, ns[p[0]], dev[p[1]], ns[p[2]], dev[p[3]])
	}
	// The access network: one IPv6 segment, Kea and dnsmasq on it.
	acc := ns["acc"]
	acc.Must(t, "ip", "link", "add", "br0", "type", "bridge")
	for _, d := range []string{"a1", "a2", "a3", "a4"} {
		acc.Must(t, "ip", "link", "set", dev[d], "master", "br0")
	}
	acc.Must(t, "ip", "link", "set", "br0", "up")
	acc.Addr(t, "br0", "2001:db8:1::1/64")
	acc.Addr(t, "br0", "2001:db8:1::53/64")
	// The Internet: the server's router, pools routed to the AFTRs.
	inet := ns["inet"]
	inet.Must(t, "ip", "link", "add", "br0", "type", "bridge")
	for _, d := range []string{"x1", "x2"} {
		inet.Must(t, "ip", "link", "set", dev[d], "master", "br0")
	}
	inet.Must(t, "ip", "link", "set", "br0", "up")
	inet.Addr(t, "br0", "192.0.2.1/24")
	inet.Addr(t, "lo", server+"/32")
	inet.Must(t, "ip", "route", "add", "198.51.100.0/28", "via", "192.0.2.11")
	inet.Must(t, "ip", "route", "add", "198.51.100.16/28", "via", "192.0.2.12")
	for _, h := range []struct{ ns, dev string }{{"hom1", "h1"}, {"hom2", "h2"}} {
		ns[h.ns].Addr(t, dev[h.dev], "192.168.1.100/24")
		ns[h.ns].Must(t, "ip", "route", "add", "default", "via", "192.168.1.1")
	}
	// B4-2's own stack (DHCPv6, DNS) has an address of its own on the
	// WAN link; the tunnel address 2001:db8:1::b2 is the engine's.
	ns["b42"].Addr(t, dev["w2"], "2001:db8:1::c2/64")
	dnsmasq.StartDNS(t, acc, netip.MustParseAddr("2001:db8:1::53"),
		map[string][]netip.Addr{aftrName: {netip.MustParseAddr(aftr1Addr), netip.MustParseAddr(aftr2Addr)}})
	kea.StartDHCPv6(t, acc, kea.DHCPv6{Interface: "br0", Subnet: "2001:db8:1::/64", Options: []kea.Option{
		{Name: "aftr-name", Data: aftrName}, {Name: "dns-servers", Data: "2001:db8:1::53"}}})

	return &topo{ns: ns, dev: dev, curl: testenv.Tool(t, "curl", "curl"), iperf: testenv.Tool(t, "iperf3", "iperf3")}
}

func startServer(t *testing.T, ns *netns.NS, name string, args ...string) *syncbuf.Buffer {
	t.Helper()
	cmd := ns.Command(name, args...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return out
}

const udpEcho = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(2048)
    print("from", peer[0], flush=True)
    s.sendto(b"echo " + data, peer)
`

const udpClient = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(5):
    s.sendto(b"ok", (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recv(2048).decode())
        break
    except socket.timeout:
        pass
`

// badInput sends, with scapy, tunnel packets the AFTR must refuse: from
// outside the B4 prefix, with a truncated inner header, and a burst of
// first fragments that never complete.
const badInput = `
import sys
from scapy.all import Ether, IPv6, IP, UDP, IPv6ExtHdrFragment, sendp, conf
conf.verb = 0
iface, aftr = sys.argv[1], sys.argv[2]
sendp(Ether(dst="ff:ff:ff:ff:ff:ff")/IPv6(src="2001:db8:2::1", dst=aftr)/IP(src="192.168.1.100", dst="203.0.113.10")/UDP(sport=1, dport=2), iface=iface)
sendp(Ether(dst="ff:ff:ff:ff:ff:ff")/IPv6(src="2001:db8:1::b9", dst=aftr, nh=4)/bytes(IP(src="192.168.1.100", dst="203.0.113.10"))[:12], iface=iface)
frags = [Ether(dst="ff:ff:ff:ff:ff:ff")/IPv6(src="2001:db8:1::b9", dst=aftr)/IPv6ExtHdrFragment(id=i, m=1, nh=4)/(b"x"*64) for i in range(500)]
sendp(frags, iface=iface)
print("sent")
`
