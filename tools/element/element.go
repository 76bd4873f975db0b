// Package element runs wirebeat elements for live tests: `wirebeat run`
// as a process inside a test's network namespace, with a configuration
// the test writes, listeners on free ports, its output kept for the
// test's failure message, reached over NETCONF by ncclient (the real
// client an OSS uses) for gets and notification subscriptions, and
// signalled (SIGTERM) or killed (SIGKILL, as a crash) by the test, and
// killed at cleanup.
//
// The wirebeat binary is built once per test binary (tools/gobuild).
package element

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/gobuild"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/syncbuf"
)

// Password is the admin password of every element started here (set
// through $WIREBEAT_ADMIN_PASSWORD at the element's first start).
const Password = "wirebeat-live-secret"

// Python is the interpreter with ncclient (python3-ncclient).
const Python = "/usr/bin/python3"

// Options are what differs between the elements of the tests.
type Options struct {
	// Dir holds the element's configuration file NAME.json and its
	// datadir NAME/. An element started again with the same Dir and name
	// finds its datadir as it left it. Empty: a directory of the test's.
	Dir string
	// GNMI adds a gNMI listener (Element.GNMI); NETCONF is always on,
	// the CLI off.
	GNMI bool
}

// Element is one running `wirebeat run`.
type Element struct {
	Name    string
	NS      *netns.NS // nil: the test's own
	Datadir string
	NETCONF string // host:port the element listens on for NETCONF over SSH
	GNMI    string // host:port of gNMI, with Options.GNMI

	out    syncbuf.Buffer
	done   chan struct{} // closed when the process has exited
	proc   *os.Process   // wirebeat itself: ip netns exec execs it
	kill   func()
	killed bool
}

var (
	netconfRe = regexp.MustCompile(`NETCONF: listening on (\S+)`)
	gnmiRe    = regexp.MustCompile(`gNMI: listening on (\S+)`)
	runningRe = regexp.MustCompile(`(?m)^running;`)
)

// readyWithin bounds an element's start: building the tree, opening its
// data-plane ports and listeners on a loaded machine.
const readyWithin = 60 * time.Second

// Start writes config (RFC 7951 JSON; "": none, the element's defaults) and runs wirebeat with it in ns
// (nil: the test's own network namespace, listening on loopback), until the element says it runs with its listeners up; the test fails
// with the element's output when it does not. The element is killed at
// cleanup, and its output logged when the test failed.
func Start(t testing.TB, ns *netns.NS, name, config string, o Options) *Element {
	t.Helper()
	bin := gobuild.Binary(t, "github.com/wirebeat/wirebeat")
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	e := &Element{Name: name, NS: ns, Datadir: filepath.Join(dir, name), done: make(chan struct{})}
	gnmi := ""
	if o.GNMI {
		gnmi = "127.0.0.1:0"
	}
	args := []string{"run", "--datadir", e.Datadir, "--netconf", "127.0.0.1:0", "--gnmi", gnmi, "--cli", ""}
	if config != "" {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	cmd := e.Command(bin, args...)
	cmd.Env = append(os.Environ(), "WIREBEAT_ADMIN_PASSWORD="+Password)
	cmd.Stdout, cmd.Stderr = &e.out, &e.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.proc = cmd.Process
	go func() { _ = cmd.Wait(); close(e.done) }()
	e.kill = func() { _ = cmd.Process.Kill(); <-e.done }
	t.Cleanup(func() {
		e.kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, e.Log())
		}
	})
	WaitFor(t, readyWithin, name+" running with NETCONF", func() bool {
		select {
		case <-e.done:
			t.Fatalf("%s exited before running:\n%s", name, e.Log())
		default:
		}
		out := e.Log()
		if !runningRe.MatchString(out) {
			return false
		}
		if m := netconfRe.FindStringSubmatch(out); m != nil {
			e.NETCONF = m[1]
		}
		if m := gnmiRe.FindStringSubmatch(out); m != nil {
			e.GNMI = m[1]
		}
		return e.NETCONF != "" && (!o.GNMI || e.GNMI != "")
	})
	return e
}

// Command returns a command that runs in the element's network
// namespace.
func (e *Element) Command(name string, args ...string) *exec.Cmd {
	if e.NS == nil {
		return exec.Command(name, args...)
	}
	return e.NS.Command(name, args...)
}

// Log is what the element wrote so far, standard output and error.
func (e *Element) Log() string { return e.out.String() }

// Kill sends SIGKILL, as a crash, and waits until the process is gone.
// Killing a killed element does nothing.
func (e *Element) Kill() {
	e.killed = true
	e.kill()
}

// Signal sends sig to the element (SIGTERM: a clean stop, with its
// drain period).
func (e *Element) Signal(sig os.Signal) error { return e.proc.Signal(sig) }

// Exited is closed when the element's process has exited.
func (e *Element) Exited() <-chan struct{} { return e.done }

// Leaf is the text of the first <name> element of an XML reply (a
// NETCONF get's data), "" when there is none.
func Leaf(xml, name string) string {
	m := regexp.MustCompile(`<` + regexp.QuoteMeta(name) + `>([^<]*)</` + regexp.QuoteMeta(name) + `>`).FindStringSubmatch(xml)
	if m == nil {
		return ""
	}
	return m[1]
}

// Killed reports whether the test killed the element.
func (e *Element) Killed() bool { return e.killed }

const getScript = `
import sys
from ncclient import manager
host, port = sys.argv[1].rsplit(':', 1)
with manager.connect(host=host, port=int(port), username='admin', password=sys.argv[2], hostkey_verify=False,
                     allow_agent=False, look_for_keys=False, timeout=30) as m:
    print(m.get(filter=('subtree', sys.argv[3])).data_xml)
`

// Get returns the data of a NETCONF <get> with the subtree filter, as
// ncclient prints it; the test fails when the get does.
func (e *Element) Get(t testing.TB, filter string) string {
	t.Helper()
	out, err := e.Command(Python, "-c", getScript, e.NETCONF, Password, filter).CombinedOutput()
	if err != nil {
		t.Fatalf("ncclient get from %s: %v\n%s", e.Name, err, out)
	}
	return string(out)
}

// WaitFor polls cond every 200 ms until it holds; the test fails after d
// saying what it waited for.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
