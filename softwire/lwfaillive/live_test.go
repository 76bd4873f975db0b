package lwfaillive

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/bindstore"
	"github.com/wirebeat/wirebeat/softwire/lwb4"
	"github.com/wirebeat/wirebeat/tools/etcdtest"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

const adminPassword = "lwfail-test-secret"

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "wirebeat-lwfail-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "wirebeat")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/wirebeat/wirebeat").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// element is a `wirebeat run` process in a namespace.
type element struct {
	name    string
	cmd     *exec.Cmd
	out     *syncBuffer
	netconf string
}

// startElement runs wirebeat with the JSON configuration cfg in ns and
// waits until it serves NETCONF.
func startElement(t *testing.T, ns *netns.NS, name, cfg, dir string) *element {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &element{name: name, out: &syncBuffer{}}
	e.cmd = ns.Command("env", "WIREBEAT_ADMIN_PASSWORD="+adminPassword, bin, "run", "--datadir", filepath.Join(dir, name),
		"--config", path, "--netconf", "127.0.0.1:0", "--gnmi", "", "--cli", "")
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.cmd.Process.Kill()
		_ = e.cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, e.out.String())
		}
	})
	re := regexp.MustCompile(`NETCONF: listening on (\S+)`)
	waitFor(t, 60*time.Second, name+" serving NETCONF", func() bool {
		m := re.FindStringSubmatch(e.out.String())
		if m != nil {
			e.netconf = m[1]
		}
		return m != nil && strings.Contains(e.out.String(), "running;")
	})
	return e
}

// subscriber is an ncclient session with a notification subscription,
// printing each notification on a line.
type subscriber struct {
	mu    sync.Mutex
	lines []string
}

const ncSubscribe = `
import sys
from ncclient import manager
host, port, user, pw = sys.argv[1:5]
with manager.connect(host=host, port=int(port), username=user, password=pw, hostkey_verify=False,
                     allow_agent=False, look_for_keys=False, timeout=30) as m:
    m.create_subscription()
    print("SUBSCRIBED", flush=True)
    while True:
        n = m.take_notification(block=True, timeout=120)
        if n is None:
            continue
        print(n.notification_xml.replace("\n", " "), flush=True)
`

func subscribe(t *testing.T, ns *netns.NS, e *element) *subscriber {
	t.Helper()
	host, port, _ := strings.Cut(e.netconf, ":")
	s := &subscriber{}
	cmd := ns.Command("/usr/bin/python3", "-u", "-c", ncSubscribe, host, port, "admin", adminPassword)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() {
		r := bufio.NewReader(out)
		for {
			l, err := r.ReadString('\n')
			if l != "" {
				s.mu.Lock()
				s.lines = append(s.lines, strings.TrimSpace(l))
				s.mu.Unlock()
			}
			if err != nil {
				_, _ = io.Copy(io.Discard, r)
				return
			}
		}
	}()
	waitFor(t, 30*time.Second, "subscription to "+e.name, func() bool { return s.find("SUBSCRIBED") != "" })
	return s
}

// find returns the first line containing every one of subs.
func (s *subscriber) find(subs ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		all := true
		for _, x := range subs {
			all = all && strings.Contains(l, x)
		}
		if all {
			return l
		}
	}
	return ""
}

const ncGetScript = `
import sys
from ncclient import manager
host, port, user, pw, flt = sys.argv[1:6]
with manager.connect(host=host, port=int(port), username=user, password=pw, hostkey_verify=False,
                     allow_agent=False, look_for_keys=False, timeout=30) as m:
    print(m.get(filter=("subtree", flt)).data_xml)
`

// ncGet returns the data of a NETCONF get with a subtree filter, by
// ncclient.
func ncGet(t *testing.T, ns *netns.NS, e *element, filter string) string {
	t.Helper()
	host, port, _ := strings.Cut(e.netconf, ":")
	out, err := ns.Command("/usr/bin/python3", "-c", ncGetScript, host, port, "admin", adminPassword, filter).CombinedOutput()
	if err != nil {
		t.Fatalf("ncclient get from %s: %v\n%s", e.name, err, out)
	}
	return string(out)
}

// leafValue is the text of the first <name> element of an XML reply.
func leafValue(xml, name string) string {
	m := regexp.MustCompile(`<` + name + `>([^<]*)</` + name + `>`).FindStringSubmatch(xml)
	if m == nil {
		return ""
	}
	return m[1]
}

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

// tun opens a TUN device (no packet information header) named name in ns.
func tun(t *testing.T, ns *netns.NS, name string) *os.File {
	var f *os.File
	if err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return err
		}
		f = os.NewFile(uintptr(fd), name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

type tunSender struct{ f *os.File }

func (s tunSender) SendLAN(p []byte) { _, _ = s.f.Write(p) }
func (s tunSender) SendWAN(p []byte) { _, _ = s.f.Write(p) }

func macOf(t *testing.T, ns *netns.NS, dev string) string {
	return strings.TrimSpace(ns.Must(t, "cat", "/sys/class/net/"+dev+"/address"))
}

// aftrConfig is the configuration of one lwAFTR of the anycast set.
func aftrConfig(mode, intDev, extDev, extIP, intNH, extNH string, endpoints []string, static string) string {
	var eps []string
	for _, e := range endpoints {
		eps = append(eps, fmt.Sprintf("%q", "http://"+e))
	}
	return fmt.Sprintf(`{"wirebeat-softwire:softwire": {"lwaftr": {
  "enabled": true,
  "external-interface": {"device": %q, "ip": %q, "next-hop": {"mac": %q}},
  "internal-interface": {"device": %q, "ip": "2001:db8:ac::1", "next-hop": {"mac": %q}},
  "failover": {"mode": %q, "anycast-address": "2001:db8:ac::1",
    "validation-source": {"type": "etcd", "query-timeout": 500, "etcd": {"endpoint": [%s]}}},
  "binding-table": {"softwire": [%s]}
}}}`, extDev, extIP, extNH, intDev, intNH, mode, strings.Join(eps, ", "), static)
}

// size of the download.
const size = 24 << 20

// downloadRate paces the download at the server, in bytes a second (about
// 8 s for size). curl's --limit-rate would only pace how fast curl reads its
// socket: the client's receive buffer grows to tcp_rmem's maximum (32 MiB
// here), so the whole download could cross the primary before it is killed
// and the backup would carry nothing. Paced at the server, every byte not
// yet written when the primary dies crosses the backup.
const downloadRate = 3_000_000

// liveNet is the topology of the live tests.
type liveNet struct {
	home, b4ns, a2, inet *netns.NS
	w2                   string
	primary, backup      *element
	sub                  *subscriber
	prov                 *bindstore.Store
	binding              bindingtable.Softwire
	dir                  string
	curl                 func() bool
	decapBytes           func() uint64
	b4Counters           func() lwb4.Counters
	// reprov gets the time of each provisioning restart of the lwB4.
	reprov chan time.Time
}

// setupElements builds the topology of the live tests with both lwAFTRs
// in failover mode, and waits until HTTP works through the primary.
func setupElements(t *testing.T, mode string) *liveNet {
	testenv.Tool(t, "curl", "curl")
	testenv.Tool(t, "ethtool", "ethtool")
	home := netns.New(t, "fh")
	b4ns := netns.New(t, "fb")
	a1 := netns.New(t, "fa")
	a2 := netns.New(t, "fa")
	inet := netns.New(t, "fi")
	cluster := etcdtest.Start(t, 3)

	n := netns.Unique
	h0, b0 := n("fh"), n("fb")
	w1, i1, w2, i2 := n("fw"), n("fi"), n("fw"), n("fi")
	e1, x1, e2, x2 := n("fe"), n("fx"), n("fe"), n("fx")
	netns.Veth(t, home, h0, b4ns, b0)
	netns.Veth(t, b4ns, w1, a1, i1)
	netns.Veth(t, b4ns, w2, a2, i2)
	netns.Veth(t, a1, e1, inet, x1)
	netns.Veth(t, a2, e2, inet, x2)
	for _, ns := range []*netns.NS{a1, a2} {
		// The kernel of a lwAFTR namespace stays out of the way: the
		// element answers ARP and neighbour discovery itself.
		ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	}
	home.Addr(t, h0, "192.168.1.100/24")
	home.Must(t, "ip", "link", "set", h0, "mtu", "1400")
	home.Must(t, "ip", "route", "add", "default", "via", "192.168.1.1")
	b4ns.Addr(t, b0, "192.168.1.1/24")
	b4ns.Must(t, "ip", "link", "set", b0, "mtu", "1400")
	b4ns.Must(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	b4ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	b4ns.Must(t, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
	tf := tun(t, b4ns, "lwb4tun")
	b4ns.Must(t, "ip", "link", "set", "lwb4tun", "up")
	b4ns.Must(t, "sysctl", "-qw", "net.ipv4.conf.lwb4tun.rp_filter=0")
	b4ns.Must(t, "ip", "route", "add", "default", "dev", "lwb4tun")
	b4ns.Must(t, "ip", "-6", "route", "add", "2001:db8:b4::b4/128", "dev", "lwb4tun")
	b4ns.Must(t, "ip", "-6", "route", "add", "2001:db8:ac::1/128", "dev", w1)
	inet.Must(t, "ip", "addr", "add", "203.0.113.7/32", "dev", "lo")
	inet.Addr(t, x1, "10.1.0.254/24")
	inet.Addr(t, x2, "10.2.0.254/24")
	inet.Must(t, "ip", "route", "add", "192.0.2.0/24", "via", "10.1.0.1")
	// veth leaves TCP checksums to "hardware": frames an element reads
	// would carry them unfinished into the tunnel.
	for _, x := range []string{x1, x2} {
		inet.Must(t, "ethtool", "-K", x, "tx", "off")
	}
	home.Must(t, "ethtool", "-K", h0, "tx", "off")

	// The B4's binding, in etcd (as a provisioning system writes it).
	binding := bindingtable.Softwire{IPv4: 0xc000020a, PSID: 5, PortSet: bindingtable.PortSet{Offset: 6, Length: 4},
		B4: netip.MustParseAddr("2001:db8:b4::b4").As16(), BR: netip.MustParseAddr("2001:db8:ac::1").As16()}
	var eps []string
	for _, m := range cluster.Members {
		eps = append(eps, strings.TrimPrefix(m.ClientURL, "http://"))
	}
	prov, err := bindstore.Open(bindstore.Config{Endpoints: cluster.Endpoints(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prov.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := prov.Put(ctx, binding, 0); err != nil {
		t.Fatal(err)
	}

	// The two elements, each reaching etcd through proxies into its
	// namespace.
	endpointsIn := func(ns *netns.NS) []string {
		var out []string
		for _, e := range eps {
			out = append(out, proxyInto(t, ns, e))
		}
		return out
	}
	dir := t.TempDir()
	static := `{"ipv4": "192.0.2.10", "psid": 5, "b4-ipv6": "2001:db8:b4::b4", "br-address": "2001:db8:ac::1",
	  "port-set": {"psid-offset": 6, "psid-length": 4}}`
	primary := startElement(t, a1, "primary", aftrConfig(mode, i1, e1, "10.1.0.1", macOf(t, b4ns, w1), macOf(t, inet, x1), endpointsIn(a1), static), dir)
	backup := startElement(t, a2, "backup", aftrConfig(mode, i2, e2, "10.2.0.1", macOf(t, b4ns, w2), macOf(t, inet, x2), endpointsIn(a2), ""), dir)
	sub := subscribe(t, a2, backup)

	waitFor(t, 30*time.Second, "the backup's cache to hold the etcd binding", func() bool {
		return leafValue(ncGet(t, a2, backup, stateFilter), "cached-bindings") == "1"
	})

	// The lwB4, statically provisioned with the binding.
	b4, err := lwb4.New(lwb4.Config{B4: binding.B4}, tunSender{tf})
	if err != nil {
		t.Fatal(err)
	}
	if err := b4.SetBinding(lwb4.Binding{IPv4: binding.IPv4, PSID: binding.PSID, PortSet: binding.PortSet, BR: binding.BR}); err != nil {
		t.Fatal(err)
	}
	var b4mu sync.Mutex
	reprov := make(chan time.Time, 16)
	b4.OnReprovision = func() {
		select {
		case reprov <- time.Now():
		default:
		}
	}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := tf.Read(buf)
			if err != nil {
				return
			}
			b4mu.Lock()
			if n > 0 && buf[0]>>4 == 4 {
				b4.FromLAN(buf[:n])
			} else if n > 0 && buf[0]>>4 == 6 {
				b4.FromWAN(buf[:n])
			}
			b4mu.Unlock()
		}
	}()
	decapBytes := func() uint64 { b4mu.Lock(); defer b4mu.Unlock(); return b4.C.DecapBytes }

	var ln net.Listener
	if err := inet.Do(func() (err error) { ln, err = net.Listen("tcp", "203.0.113.7:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			_, _ = w.Write(make([]byte, 1000))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		chunk := make([]byte, 64<<10)
		start := time.Now()
		for sent := 0; sent < size; sent += len(chunk) {
			// Paced here, never ahead of downloadRate (after a stall it
			// catches up): see downloadRate.
			if d := time.Until(start.Add(time.Duration(sent) * time.Second / downloadRate)); d > 0 {
				time.Sleep(d)
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	curl := func() bool {
		out, err := home.Command("curl", "-sS", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", "http://203.0.113.7:8080/small").CombinedOutput()
		return err == nil && string(out) == "200"
	}
	waitFor(t, 30*time.Second, "HTTP through the primary", curl)
	return &liveNet{home: home, b4ns: b4ns, a2: a2, inet: inet, w2: w2, primary: primary, backup: backup, sub: sub, prov: prov,
		binding: binding, dir: dir, curl: curl, decapBytes: decapBytes, reprov: reprov,
		b4Counters: func() lwb4.Counters { b4mu.Lock(); defer b4mu.Unlock(); return b4.C }}
}

// fail SIGKILLs the primary and moves the routes to the backup, as
// routers would when the primary stops answering.
func (l *liveNet) fail(t *testing.T) time.Time {
	killed := time.Now()
	if err := l.primary.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = l.primary.cmd.Wait()
	l.b4ns.Must(t, "ip", "-6", "route", "replace", "2001:db8:ac::1/128", "dev", l.w2)
	l.inet.Must(t, "ip", "route", "replace", "192.0.2.0/24", "via", "10.2.0.1")
	return killed
}

const stateFilter = `<softwire xmlns="urn:wirebeat:softwire"><lwaftr><failover><state/></failover></lwaftr></softwire>`

// backupState reads the backup's failover/state and dynamic-binding
// list over NETCONF.
func (l *liveNet) backupState(t *testing.T) (string, string) {
	st := ncGet(t, l.a2, l.backup, stateFilter)
	dyn := ncGet(t, l.a2, l.backup, `<softwire xmlns="urn:wirebeat:softwire"><lwaftr><failover><dynamic-binding/></failover></lwaftr></softwire>`)
	return st, dyn
}

func num(xml, name string) int {
	var v int
	_, _ = fmt.Sscan(leafValue(xml, name), &v)
	return v
}

// TestLiveElementsDataPacketFailover: home client — lwB4 — two `wirebeat
// run` lwAFTRs sharing the anycast address 2001:db8:ac::1 — an Internet
// server; a 3-member etcd cluster holds the B4's binding (written there by
// the test, as a provisioning system would). The primary has the binding
// configured; the backup has none. A long curl download starts through
// the primary; the primary is SIGKILLed and the test moves the routes to
// the backup (as routers would); the backup takes the B4 over by the
// data-packet trigger, validated from its etcd-fed cache, and the
// download completes. The backup's failover/state, read over NETCONF,
// shows the takeover, and its NETCONF subscriber got binding-created.
func TestLiveElementsDataPacketFailover(t *testing.T) {
	l := setupElements(t, "data-packet-trigger")
	// The long download: 24 MiB at downloadRate, about 8 s.
	dl := l.home.Command("curl", "-sS", "-m", "60", "-o", filepath.Join(l.dir, "dl"), "-w", "%{size_download}", "http://203.0.113.7:8080/")
	var dlOut syncBuffer
	dl.Stdout, dl.Stderr = &dlOut, &dlOut
	if err := dl.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "4 MiB of the download through the primary", func() bool { return l.decapBytes() >= 4<<20 })
	killed := l.fail(t)
	t.Logf("primary SIGKILLed after %d bytes; routes moved to the backup", l.decapBytes())

	err := dl.Wait()
	if err != nil || dlOut.String() != fmt.Sprint(size) {
		st, _ := l.backupState(t)
		t.Fatalf("the download did not survive the failover: %v %q (lwB4 %+v)\nbackup state: %s", err, dlOut.String(), l.b4Counters(), st)
	}
	t.Logf("download completed %v after the primary died", time.Since(killed).Round(time.Millisecond))

	st, dyn := l.backupState(t)
	t.Logf("backup failover/state: %s", st)
	// The first packet to reach the backup may be the B4's (validated
	// by a cache hit) or the server's (found in the cache by the inbound
	// path); either way from the etcd-fed cache.
	if num(st, "bindings-created") != 1 || num(st, "dynamic-binding-count") != 1 || leafValue(st, "in-service") != "true" ||
		leafValue(st, "reachable") != "true" || num(st, "cache-hits")+num(st, "inbound-triggers") < 1 {
		t.Fatalf("the backup's failover/state does not show a data-packet takeover from etcd:\n%s", st)
	}
	if !strings.Contains(dyn, "<b4-ipv6>2001:db8:b4::b4</b4-ipv6>") || !strings.Contains(dyn, "data-packet-validated") || !strings.Contains(dyn, "etcd") {
		t.Fatalf("the backup's dynamic-binding list: %s", dyn)
	}
	waitFor(t, 10*time.Second, "binding-created at the backup's NETCONF subscriber", func() bool {
		return l.sub.find("binding-created", "192.0.2.10", "2001:db8:b4::b4", "data-packet-validated") != ""
	})
	t.Logf("notification: %s", l.sub.find("binding-created"))
}

// TestLiveElementsICMPv6Failover: the same elements in icmpv6-trigger
// mode. After the primary dies and the routes move, the backup answers
// the B4's packets with ICMPv6 Destination Unreachable code 5; the lwB4
// restarts provisioning; the provisioning system writes the binding to
// etcd again (the test does, in place of the DHCPv4-over-DHCPv6 server
// and relay, which wirebeat run does not host yet); the backup, which
// triggered that B4, installs it, and new connections work. The time from
// the failure to the first working new connection is logged.
func TestLiveElementsICMPv6Failover(t *testing.T) {
	l := setupElements(t, "icmpv6-trigger")
	killed := l.fail(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reprovisioned time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case at := <-l.reprov:
				if reprovisioned.IsZero() {
					reprovisioned = at
				}
				if _, err := l.prov.Put(ctx, l.binding, 10*time.Minute); err != nil && ctx.Err() == nil {
					t.Logf("provisioning write: %v", err)
				}
			}
		}
	}()
	waitFor(t, 30*time.Second, "a new connection through the backup", l.curl)
	working := time.Since(killed)
	cancel()
	<-done
	if reprovisioned.IsZero() {
		t.Fatalf("the lwB4 never restarted provisioning (lwB4 %+v)", l.b4Counters())
	}
	t.Logf("ICMPv6 trigger: lwB4 reprovisioned %v after the failure; new connections work %v after the failure",
		reprovisioned.Sub(killed).Round(time.Millisecond), working.Round(time.Millisecond))
	st, dyn := l.backupState(t)
	t.Logf("backup failover/state: %s", st)
	if num(st, "icmpv6-triggers-sent") < 1 || num(st, "bindings-created") != 1 || num(st, "dynamic-binding-count") != 1 {
		t.Fatalf("the backup's failover/state does not show the ICMPv6 takeover:\n%s", st)
	}
	if !strings.Contains(dyn, "<b4-ipv6>2001:db8:b4::b4</b4-ipv6>") || !strings.Contains(dyn, "reprovisioned") {
		t.Fatalf("the backup's dynamic-binding list: %s", dyn)
	}
	waitFor(t, 10*time.Second, "binding-created at the backup's NETCONF subscriber", func() bool {
		return l.sub.find("binding-created", "192.0.2.10", "reprovisioned") != ""
	})
}
