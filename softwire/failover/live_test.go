package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/bindstore"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/softwire/lwb4"
	"github.com/wirebeat/wirebeat/tools/etcdtest"
	"github.com/wirebeat/wirebeat/tools/lwtopo"
	"github.com/wirebeat/wirebeat/tools/netns"
)

// The live test runs each lwAFTR as a separate process (this test binary
// again, in helper mode) so the primary can be killed with SIGKILL.

// aftrSpec is what a helper lwAFTR process runs.
type aftrSpec struct {
	NS                 string
	ExtDev, IntDev     string
	ExtIP              string
	ExtMAC, IntMAC     string
	ExtNHMAC, IntNHMAC string
	Anycast            string
	Endpoints          []string
	Mode               string // data-packet-trigger | icmpv6-trigger
	Provision          *bindingtable.Softwire
	StateFile          string
}

func TestMain(m *testing.M) {
	if spec := os.Getenv("LWFAIL_AFTR"); spec != "" {
		if err := runAftr(spec); err != nil {
			fmt.Fprintln(os.Stderr, "lwaftr helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func mustMAC(s string) [6]byte {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return [6]byte(hw)
}

type linkSender struct{ l [2]pktio.Port }

func (s linkSender) Send(p lwaftr.Port, f []byte) { _ = s.l[p].Write(f) }

// runAftr is one lwAFTR: AF_PACKET links opened inside its namespace, the
// etcd store reached from the root namespace, the failover manager, and a
// loop moving frames until SIGTERM. Its counters go to StateFile.
func runAftr(specJSON string) error {
	var sp aftrSpec
	if err := json.Unmarshal([]byte(specJSON), &sp); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("aftr", sp.NS)
	ns := &netns.NS{Name: sp.NS}
	var links [2]pktio.Port
	if err := ns.Do(func() error {
		var err error
		if links[lwaftr.External], err = pktio.Open(sp.ExtDev, pktio.Config{}); err != nil {
			return err
		}
		links[lwaftr.Internal], err = pktio.Open(sp.IntDev, pktio.Config{})
		return err
	}); err != nil {
		return err
	}
	var mp atomic.Pointer[Manager]
	st, err := bindstore.Open(bindstore.Config{Endpoints: sp.Endpoints, Log: log, QueryTimeout: 500 * time.Millisecond,
		OnChange: func(ev bindstore.Event) {
			if m := mp.Load(); m != nil {
				m.StoreEvent(ev)
			}
		}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := st.WaitSynced(ctx); err != nil {
		return err
	}
	any := netip.MustParseAddr(sp.Anycast).As16()
	mode := DataPacketTrigger
	if sp.Mode == "icmpv6-trigger" {
		mode = ICMPv6Trigger
	}
	m, err := New(Config{Mode: mode, Anycast: any, Lifetime: 10 * time.Minute, Log: log}, st, st)
	if err != nil {
		return err
	}
	mp.Store(m)
	cfg := lwaftr.Config{External: lwaftr.DefaultSide(true), Internal: lwaftr.DefaultSide(false)}
	cfg.External.IP = netip.MustParseAddr(sp.ExtIP).AsSlice()
	cfg.External.MAC, cfg.Internal.MAC = mustMAC(sp.ExtMAC), mustMAC(sp.IntMAC)
	cfg.External.NextHopMAC, cfg.External.NextHopMACSet = mustMAC(sp.ExtNHMAC), true
	cfg.Internal.NextHopMAC, cfg.Internal.NextHopMACSet = mustMAC(sp.IntNHMAC), true
	cfg.Internal.IP = any[:]
	cfg.External.MTU = 1500
	e, err := lwaftr.New(cfg, bindingtable.New(1024), linkSender{links})
	if err != nil {
		return err
	}
	e.SetUnknownSource(m)
	if sp.Provision != nil {
		if err := m.Provisioned(ctx, *sp.Provision); err != nil {
			return err
		}
	}
	type rx struct {
		p lwaftr.Port
		f []byte
	}
	in := make(chan rx, 1024)
	for _, p := range []lwaftr.Port{lwaftr.External, lwaftr.Internal} {
		go func() {
			bufs, lens := [][]byte{make([]byte, 9300)}, []int{0}
			for {
				n, err := links[p].ReadBatch(bufs, lens)
				if err != nil {
					return
				}
				if n == 1 {
					in <- rx{p, append([]byte(nil), bufs[0][:lens[0]]...)}
				}
			}
		}()
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	tick := time.NewTicker(50 * time.Millisecond)
	for {
		select {
		case <-stop:
			return nil
		case r := <-in:
			e.Receive(r.p, r.f)
		drain:
			for range 63 {
				select {
				case r := <-in:
					e.Receive(r.p, r.f)
				default:
					break drain
				}
			}
			e.Flush()
		case <-tick.C:
			e.Flush()
			writeState(sp.StateFile, m, st, e)
		}
	}
}

// size of the download the live tests make.
const size = lwtopo.Size

// The paced download's rates (see lwtopo.Net.Serve for why the server
// paces it).
const (
	failoverRate = 3_000_000 // about 8 s for the download
	floodRate    = 6_000_000
)

// liveState is what a helper reports.
type liveState struct {
	Created, ValidationsOK, Released, Unknown, ICMP   uint64
	InboundValidated, Asked, RateLimited, PendingFull uint64
	CacheHits, CacheMisses                            uint64
	Dynamic                                           []string
	Decap, Encap                                      uint64
}

func writeState(path string, m *Manager, st *bindstore.Store, e *lwaftr.Engine) {
	s := liveState{Created: m.C.Created.Load(), ValidationsOK: m.C.ValidationsOK.Load(), Released: m.C.Released.Load(),
		Unknown: m.C.Unknown.Load(), ICMP: m.C.ICMPTriggers.Load(), InboundValidated: m.C.InboundValidated.Load(),
		Asked: m.C.ValidationsAsked.Load(), RateLimited: m.C.RateLimited.Load(), PendingFull: m.C.PendingFull.Load(), CacheHits: st.C.CacheHits.Load(), CacheMisses: st.C.CacheMisses.Load(),
		Decap: e.C.DecapPackets, Encap: e.C.EncapPackets}
	for _, d := range m.Dynamic() {
		s.Dynamic = append(s.Dynamic, fmt.Sprintf("%s/%d %s %s", fmtIPv4(d.Binding.IPv4), d.Binding.PSID, netip.AddrFrom16(d.Binding.B4), d.Origin))
	}
	b, _ := json.Marshal(s)
	_ = os.WriteFile(path+".tmp", b, 0o644)
	_ = os.Rename(path+".tmp", path)
}

func readState(t *testing.T, path string) liveState {
	var s liveState
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		t.Logf("state %s: %v", path, err)
	}
	return s
}

// tun opens a TUN device (IPv4 and IPv6, no packet information header)
// named name in ns.
func tun(t *testing.T, ns *netns.NS, name string) *os.File {
	var f *os.File
	if err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
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

// liveNet is the live topology: home client — lwB4 (TUN in its
// namespace) — two lwAFTR processes sharing the anycast address — the
// Internet (a server on 203.0.113.7), and a 3-member etcd cluster.
type liveNet struct {
	*lwtopo.Net
	w1, w2, i1 string
	cluster    *etcdtest.Cluster
	b4         *lwb4.Engine
	binding    bindingtable.Softwire
	dir        string
	// reprov receives a value each time the lwB4 restarts provisioning.
	reprov               chan time.Time
	primary              *exec.Cmd
	primState, backState string
	logs                 func()
	// served counts the bytes the server has written of paced downloads.
	served *atomic.Int64
}

func setupLive(t *testing.T, mode string) *liveNet {
	tp := lwtopo.New(t, "l")
	b4ns, a1, a2, inet := tp.B4, tp.A1, tp.A2, tp.Inet
	cluster := etcdtest.Start(t, 3)

	n := netns.Unique
	w1, i1, w2, i2 := n("lw"), n("li"), n("lw"), n("li")
	netns.Veth(t, b4ns, w1, a1, i1)
	netns.Veth(t, b4ns, w2, a2, i2)
	for _, ns := range []*netns.NS{a1, a2} {
		ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	}
	// The lwB4's LAN, the home's default gateway.
	b4ns.Addr(t, tp.B0, "192.168.1.1/24")
	b4ns.Must(t, "ip", "link", "set", tp.B0, "mtu", "1400")
	b4ns.Must(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	b4ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	b4ns.Must(t, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
	tf := tun(t, b4ns, "lwb4tun")
	b4ns.Must(t, "ip", "link", "set", "lwb4tun", "up")
	b4ns.Must(t, "sysctl", "-qw", "net.ipv4.conf.lwb4tun.rp_filter=0")
	b4ns.Must(t, "ip", "route", "add", "default", "dev", "lwb4tun")
	b4ns.Must(t, "ip", "-6", "route", "add", "2001:db8:b4::b4/128", "dev", "lwb4tun")
	b4ns.Must(t, "ip", "-6", "route", "add", lwtopo.Anycast+"/128", "dev", w1)

	binding := bindingtable.Softwire{IPv4: 0xc000020a, PSID: 5, PortSet: bindingtable.PortSet{Offset: 6, Length: 4},
		B4: netip.MustParseAddr("2001:db8:b4::b4").As16(), BR: netip.MustParseAddr("2001:db8:ac::1").As16()}

	dir := t.TempDir()
	start := func(ns *netns.NS, intDev, extDev, extIP, wDev, xDev string, prov *bindingtable.Softwire) (*exec.Cmd, string) {
		sp := aftrSpec{NS: ns.Name, ExtDev: extDev, IntDev: intDev, ExtIP: extIP,
			ExtMAC: ns.MAC(t, extDev), IntMAC: ns.MAC(t, intDev),
			ExtNHMAC: inet.MAC(t, xDev), IntNHMAC: b4ns.MAC(t, wDev),
			Anycast: "2001:db8:ac::1", Endpoints: cluster.Endpoints(), Mode: mode,
			Provision: prov, StateFile: filepath.Join(dir, ns.Name+".json")}
		js, _ := json.Marshal(sp)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LWFAIL_AFTR="+string(js))
		lf, _ := os.Create(filepath.Join(dir, ns.Name+".log"))
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); lf.Close() })
		return cmd, sp.StateFile
	}
	primary, primState := start(a1, i1, tp.E1, lwtopo.External1, w1, tp.X1, &binding)
	_, backState := start(a2, i2, tp.E2, lwtopo.External2, w2, tp.X2, nil)
	logs := func() {
		for _, ns := range []*netns.NS{a1, a2} {
			b, _ := os.ReadFile(filepath.Join(dir, ns.Name+".log"))
			t.Logf("%s log:\n%s", ns.Name, b)
		}
	}

	// The lwB4, statically provisioned with the binding.
	b4, err := lwb4.New(lwb4.Config{B4: binding.B4}, tunSender{tf})
	if err != nil {
		t.Fatal(err)
	}
	if err := b4.SetBinding(lwb4.Binding{IPv4: binding.IPv4, PSID: binding.PSID, PortSet: binding.PortSet, BR: binding.BR}); err != nil {
		t.Fatal(err)
	}
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
			if n > 0 && buf[0]>>4 == 4 {
				b4.FromLAN(buf[:n])
			} else if n > 0 && buf[0]>>4 == 6 {
				b4.FromWAN(buf[:n])
			}
		}
	}()

	// The server: 24 MiB, paced at the rate of the request's query.
	served := tp.Serve(t, func(r *http.Request) (int, error) {
		rate, err := strconv.Atoi(r.URL.Query().Get("rate"))
		if err != nil || rate <= 0 {
			return 0, errors.New("rate (bytes/s) needed")
		}
		return rate, nil
	})

	return &liveNet{Net: tp, w1: w1, w2: w2, i1: i1, cluster: cluster, b4: b4,
		binding: binding, dir: dir, reprov: reprov, primary: primary, primState: primState, backState: backState, logs: logs,
		served: served}
}

// fail kills the primary and moves the routes to the backup, as routers
// would when the primary stops answering.
func (l *liveNet) fail(t *testing.T) {
	l.primary.Process.Signal(syscall.SIGKILL)
	l.primary.Wait()
	l.B4.Must(t, "ip", "-6", "route", "replace", lwtopo.Anycast+"/128", "dev", l.w2)
	l.MovePool(t)
}

// waitServed waits until the server has written n bytes of the download.
func waitServed(t *testing.T, served *atomic.Int64, n int64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); served.Load() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server wrote only %d bytes of the download in 20 s", served.Load())
		}
	}
}

// waitPath waits until a request goes through the primary.
func (l *liveNet) waitPath(t *testing.T) {
	t.Helper()
	home, b4ns, b4, logs := l.Home, l.B4, l.b4, l.logs
	deadline := time.Now().Add(20 * time.Second)
	for !l.Curl("2") {
		if time.Now().After(deadline) {
			for _, ns := range []*netns.NS{b4ns, home} {
				o, _ := ns.Command("nstat", "-az").CombinedOutput()
				var keep []string
				for _, l := range strings.Split(string(o), "\n") {
					if f := strings.Fields(l); len(f) > 1 && f[1] != "0" {
						keep = append(keep, l)
					}
				}
				t.Logf("%s nstat:\n%s", ns.Name, strings.Join(keep, "\n"))
			}
			logs()
			t.Fatalf("path through the primary never worked (lwb4 %+v)", b4.C)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestLiveDataPacketTrigger: home client — lwB4 — two lwAFTRs sharing the
// anycast address — Internet server, with a 3-member etcd cluster. A long
// curl download starts through the primary; the primary is SIGKILLed and
// the test moves the anycast route (and the route back to the B4's public
// address) to the backup, as routers would; the backup takes the B4 over
// by the data-packet trigger, with the binding from etcd, and the download
// completes.
func TestLiveDataPacketTrigger(t *testing.T) {
	l := setupLive(t, "data-packet-trigger")
	home, b4, logs, backState, primState, dir := l.Home, l.b4, l.logs, l.backState, l.primState, l.dir
	// Wait until the path works (the backup's cache has the binding too).
	l.waitPath(t)

	// The long download: 24 MiB at 3 MB/s, about 8 s.
	dl := home.Command("curl", "-sS", "-m", "40", "-o", filepath.Join(dir, "dl"), "-w", "%{size_download}",
		fmt.Sprintf("http://203.0.113.7:8080/?rate=%d", failoverRate))
	var dlOut strings.Builder
	dl.Stdout, dl.Stderr = &dlOut, &dlOut
	if err := dl.Start(); err != nil {
		t.Fatal(err)
	}
	// Well into the download before the primary dies: 4 MiB written by
	// the server (the path carries it), 20 MiB to go.
	waitServed(t, l.served, 4<<20)
	servedAtKill := l.served.Load()
	killed := time.Now()
	l.fail(t)
	t.Logf("primary killed when the server had written %d of %d bytes; routes moved to the backup", servedAtKill, size)

	err := dl.Wait()
	st := readState(t, backState)
	t.Logf("download: %v %s; backup: %+v; primary's last state: %+v", err, dlOut.String(), st, readState(t, primState))
	if err != nil || dlOut.String() != fmt.Sprint(size) {
		t.Logf("b4 ns neighbours:\n%s\nroutes:\n%s\nlwB4 %+v", l.B4.Must(t, "ip", "-6", "neigh"), l.B4.Must(t, "ip", "-6", "route"), b4.C)
		logs()
		t.Fatalf("the download did not survive the failover: %v %q", err, dlOut.String())
	}
	t.Logf("download completed %v after the primary died; the backup encapsulated %d packets", time.Since(killed).Round(time.Millisecond), st.Encap)
	// The first packet to reach the backup may come from the B4 (validated
	// by a cache hit) or from the server (found in the cache by the
	// inbound path); either way from the etcd-fed cache.
	if st.Created != 1 || st.ValidationsOK+st.InboundValidated < 1 || len(st.Dynamic) != 1 ||
		!strings.Contains(st.Dynamic[0], "data-packet-validated") {
		t.Fatalf("backup counters do not show a data-packet takeover from etcd: %+v", st)
	}
	// What the server wrote after the kill reached the client through the
	// backup alone: at least one encapsulated packet per 1500 bytes of it.
	// The backup writes its state every 50 ms; wait for it to catch up.
	need := uint64(size-servedAtKill) / 1500
	for deadline := time.Now().Add(10 * time.Second); st.Encap < need; st = readState(t, backState) {
		if time.Now().After(deadline) {
			t.Fatalf("the backup encapsulated %d packets, fewer than the %d bytes written after the kill need", st.Encap, size-servedAtKill)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLiveICMPv6Trigger: the same topology with both lwAFTRs in
// icmpv6-trigger mode. After the primary dies and the routes move, the
// backup answers the B4's packets with ICMPv6 Destination Unreachable code
// 5; the lwB4 restarts provisioning; the provisioning system writes the
// binding to etcd again (here the test does, standing in for the DHCPv4-
// over-DHCPv6 server and relay proven in softwire/dhcp4o6); the backup,
// which triggered that B4, installs it, and new connections work. The
// time from the failure to the first working new connection is logged.
func TestLiveICMPv6Trigger(t *testing.T) {
	l := setupLive(t, "icmpv6-trigger")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	prov, err := bindstore.Open(bindstore.Config{Endpoints: l.cluster.Endpoints(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close()
	l.waitPath(t)
	killed := time.Now()
	l.fail(t)
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
				if _, err := prov.Put(ctx, l.binding, 10*time.Minute); err != nil {
					t.Logf("provisioning write: %v", err)
				}
			}
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !l.Curl("1") {
		if time.Now().After(deadline) {
			l.logs()
			t.Fatalf("no new connection through the backup after 30 s: backup %+v, lwB4 %+v", readState(t, l.backState), l.b4.C)
		}
	}
	working := time.Since(killed)
	cancel()
	<-done
	st := readState(t, l.backState)
	if reprovisioned.IsZero() {
		t.Fatalf("the lwB4 never restarted provisioning; backup %+v", st)
	}
	t.Logf("ICMPv6 trigger: lwB4 reprovisioned %v after the failure; new connections work %v after it; backup %+v",
		reprovisioned.Sub(killed).Round(time.Millisecond), working.Round(time.Millisecond), st)
	if st.ICMP < 1 || len(st.Dynamic) != 1 || !strings.Contains(st.Dynamic[0], "reprovisioned") {
		t.Fatalf("backup state does not show the ICMPv6 takeover: %+v", st)
	}
}

// TestLiveSpoofedFlood: while a download runs through the primary, 10,000
// IPv4-in-IPv6 packets from 10,000 distinct unknown B4 addresses (claiming
// the known B4's address and port, and others) hit its anycast address.
// The download is not disturbed; the flood creates no binding, and the
// validations it causes stay within the rate limit.
func TestLiveSpoofedFlood(t *testing.T) {
	l := setupLive(t, "data-packet-trigger")
	l.waitPath(t)
	// The flood enters the primary's link from the B4 side.
	var inj pktio.Port
	if err := l.B4.Do(func() error {
		var err error
		inj, err = pktio.Open(l.w1, pktio.Config{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	dst := mustMAC(l.A1.MAC(t, l.i1))
	src := mustMAC(l.B4.MAC(t, l.w1))

	dl := l.Home.Command("curl", "-sS", "-m", "40", "-o", "/dev/null", "-w", "%{size_download}",
		fmt.Sprintf("http://203.0.113.7:8080/?rate=%d", floodRate))
	var dlOut strings.Builder
	dl.Stdout, dl.Stderr = &dlOut, &dlOut
	if err := dl.Start(); err != nil {
		t.Fatal(err)
	}
	// The flood hits while the download is under way.
	waitServed(t, l.served, 4<<20)
	const flood = 10000
	t0 := time.Now()
	for i := range flood {
		f := fromB4(b4(200000+i), l.binding.BR, l.binding.IPv4+uint32(i%2), uint16(5<<6|1<<12)+uint16(i%64))
		copy(f[0:6], dst[:])
		copy(f[6:12], src[:])
		if err := inj.Write(f); err != nil {
			t.Fatal(err)
		}
		if i%500 == 499 {
			time.Sleep(10 * time.Millisecond) // 10k packets over about 0.2 s
		}
	}
	t.Logf("flood of %d spoofed sources sent in %v; the server had written %d of %d bytes by its end", flood, time.Since(t0).Round(time.Millisecond), l.served.Load(), size)
	err := dl.Wait()
	st := readState(t, l.primState)
	t.Logf("download: %v %s; primary: %+v", err, dlOut.String(), st)
	if err != nil || dlOut.String() != fmt.Sprint(size) {
		l.logs()
		t.Fatalf("the known B4's download was disturbed by the flood: %v %q", err, dlOut.String())
	}
	if st.Unknown < flood*9/10 {
		t.Fatalf("the primary saw %d of the %d spoofed packets", st.Unknown, flood)
	}
	if st.Created != 1 || len(st.Dynamic) != 1 {
		t.Fatalf("the flood created bindings: %+v", st)
	}
	if st.Asked > 200+2000 {
		t.Fatalf("%d validations for a flood of %d: not bounded by the rate limit", st.Asked, flood)
	}
}
