package dslitelive

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/tools/netns"
)

// element is a `wirebeat run` process in a namespace.
type element struct {
	name    string
	cmd     *exec.Cmd
	out     *syncBuffer
	netconf string
}

const adminPassword = "dslite-test-secret"

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "wirebeat-dslite-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "wirebeat")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/wirebeat/wirebeat").CombinedOutput()
	if err != nil {
		return "", &buildError{string(out), err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// startElement runs wirebeat with cfg in ns and waits until it serves
// NETCONF.
func startElement(t *testing.T, ns *netns.NS, name string, cfg *gen.Device, datadir string) *element {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	js, err := ygot.EmitJSON(cfg, &ygot.EmitJSONConfig{Format: ygot.RFC7951, SkipValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(datadir, name+".json")
	if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &element{name: name, out: &syncBuffer{}}
	e.cmd = ns.Command("env", "WIREBEAT_ADMIN_PASSWORD="+adminPassword, bin, "run", "--datadir", filepath.Join(datadir, name),
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
	cmd   *exec.Cmd
}

func subscribe(t *testing.T, ns *netns.NS, e *element) *subscriber {
	t.Helper()
	host, port, _ := strings.Cut(e.netconf, ":")
	s := &subscriber{cmd: ns.Command("/usr/bin/python3", "-u", "-c", ncSubscribe, host, port, "admin", adminPassword)}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
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
	waitFor(t, 30*time.Second, "subscription to "+e.name, func() bool { return s.has("SUBSCRIBED") })
	return s
}

func (s *subscriber) has(sub ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		all := true
		for _, x := range sub {
			all = all && strings.Contains(l, x)
		}
		if all {
			return true
		}
	}
	return false
}

func (s *subscriber) dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
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

// TestDSLiteElementsKillAFTR runs the AFTRs and the B4 as wirebeat
// elements: AFTR1 is killed with SIGKILL, the B4 moves to AFTR2 and tells
// its NETCONF subscriber (aftr-failover); new connections work through
// AFTR2; AFTR1 restarts; then the B4's WAN link goes down and AFTR2 tells
// its subscriber (b4-unreachable).
func TestDSLiteElementsKillAFTR(t *testing.T) {
	tp := buildTopo(t)
	ns, dev := tp.ns, tp.dev
	data := t.TempDir()
	a1cfg := aftrConfig(dev["i1"], dev["e1"], aftr1Addr, "192.0.2.11", "198.51.100.0/28")
	aftr1 := startElement(t, ns["aft1"], "aftr1", a1cfg, data)
	aftr2 := startElement(t, ns["aft2"], "aftr2", aftrConfig(dev["i2"], dev["e2"], aftr2Addr, "192.0.2.12", "198.51.100.16/28"), data)
	b4 := startElement(t, ns["b41"], "b4", b4Config(dev["w1"], dev["l1"], "2001:db8:1::b1", map[string]uint8{aftr1Addr: 10, aftr2Addr: 20}, false), data)
	b4sub := subscribe(t, ns["b41"], b4)
	a2sub := subscribe(t, ns["aft2"], aftr2)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte(strings.Repeat("x", 100000)), 0o644); err != nil {
		t.Fatal(err)
	}
	httpLog := startServer(t, ns["inet"], "/usr/bin/python3", "-u", "-m", "http.server", "8080", "--bind", server, "--directory", dir)
	waitFor(t, 10*time.Second, "HTTP server", func() bool { return strings.Contains(httpLog.String(), "Serving HTTP") })
	get := func() (string, error) {
		out, err := ns["hom1"].Command(tp.curl, "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://"+server+":8080/file").CombinedOutput()
		return string(out), err
	}
	// The B4 starts BFD to both AFTRs; traffic flows through AFTR1.
	waitFor(t, 60*time.Second, "HTTP through the B4", func() bool { out, err := get(); return err == nil && out == "200" })
	if !regexp.MustCompile(`198\.51\.100\.([0-9]|1[0-5]) - -`).MatchString(httpLog.String()) {
		t.Fatalf("server log %q: not from AFTR1's pool", httpLog.String())
	}
	// BFD is up inside the tunnels, in /bfd/softwire of both ends: the
	// B4's configured session, AFTR2's automatic one (AFTR2 must be up
	// before AFTR1 dies, for a failover within the detection time).
	bfdState := `<bfd xmlns="urn:wirebeat:bfd"><softwire/></bfd>`
	waitFor(t, 30*time.Second, "BFD up in /bfd/softwire of the B4 and AFTR2", func() bool {
		b := ncGet(t, ns["b41"], b4, bfdState)
		a := ncGet(t, ns["aft2"], aftr2, bfdState)
		return regexp.MustCompile(`(?s)<session>.*<b4-address>2001:db8:1::b1</b4-address>.*<local-state>up</local-state>`).MatchString(b) &&
			regexp.MustCompile(`(?s)<dynamic-session>.*<b4-address>2001:db8:1::b1</b4-address>.*<local-state>up</local-state>`).MatchString(a)
	})

	killed := time.Now()
	if err := aftr1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = aftr1.cmd.Wait()
	waitFor(t, 30*time.Second, "aftr-failover at the B4's subscriber", func() bool {
		return b4sub.has("aftr-failover", "<to-aftr>"+aftr2Addr+"</to-aftr>", "<reason>bfd-down</reason>")
	})
	t.Logf("AFTR1 SIGKILLed; the B4's subscriber had aftr-failover to AFTR2 after %v (detection time 900 ms)", time.Since(killed))
	httpLog.Reset()
	waitFor(t, 30*time.Second, "HTTP through AFTR2", func() bool { out, err := get(); return err == nil && out == "200" })
	if !regexp.MustCompile(`198\.51\.100\.(1[6-9]|2[0-9]|3[01]) - -`).MatchString(httpLog.String()) {
		t.Fatalf("after the failover the server saw %q", httpLog.String())
	}
	// AFTR2's counters show the B4's sessions; AFTR1's management comes
	// back with the element restarted, its state fresh.
	counters := `<softwire xmlns="urn:wirebeat:softwire"><aftr><counters/></aftr></softwire>`
	if c := ncGet(t, ns["aft2"], aftr2, counters); !regexp.MustCompile(`<nat-sessions>[1-9]`).MatchString(c) ||
		!regexp.MustCompile(`<active-softwire-num>1<`).MatchString(c) {
		t.Fatalf("AFTR2 counters after the failover: %s", c)
	}
	aftr1 = startElement(t, ns["aft1"], "aftr1", a1cfg, data)
	if c := ncGet(t, ns["aft1"], aftr1, counters); !strings.Contains(c, "<nat-sessions>0<") {
		t.Fatalf("restarted AFTR1 counters: %s", c)
	}

	// The B4 goes away: AFTR2 reports it to its subscriber.
	ns["b41"].Must(t, "ip", "link", "set", dev["w1"], "down")
	waitFor(t, 30*time.Second, "b4-unreachable at AFTR2's subscriber", func() bool {
		return a2sub.has("b4-unreachable", "<b4-address>2001:db8:1::b1</b4-address>")
	})
	if !a2sub.has("b4-unreachable", "<sessions>") {
		t.Fatalf("b4-unreachable without its session count:\n%s", a2sub.dump())
	}
	t.Logf("AFTR2's subscriber: %s", lastMatching(a2sub, "b4-unreachable"))
}

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

const ncGetScript = `
import sys
from ncclient import manager
host, port, user, pw, flt = sys.argv[1:6]
with manager.connect(host=host, port=int(port), username=user, password=pw, hostkey_verify=False,
                     allow_agent=False, look_for_keys=False, timeout=30) as m:
    print(m.get(filter=("subtree", flt)).data_xml)
`

func lastMatching(s *subscriber, sub string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.lines) - 1; i >= 0; i-- {
		if strings.Contains(s.lines[i], sub) {
			return s.lines[i]
		}
	}
	return ""
}
