// Package netns makes network namespaces and veth pairs for tests: unique
// names, removed when the test ends (also when it fails), and a way to run
// Go code (socket creation) or commands inside a namespace.
//
// Every namespace and interface name carries the test process id and a
// counter, so parallel test binaries never collide; names stay within the
// kernel's 15-character limit for interfaces.
package netns

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wirebeat/wirebeat/tools/testenv"
)

var counter atomic.Uint32

// Unique returns a name made of prefix (at most 4 characters are kept), the
// process id and a counter: at most 15 characters.
func Unique(prefix string) string {
	if len(prefix) > 4 {
		prefix = prefix[:4]
	}
	return fmt.Sprintf("%s%d%c", prefix, os.Getpid()%100000, 'a'+rune(counter.Add(1)%26))
}

// NS is a network namespace made for one test.
type NS struct {
	Name string
}

// New creates a namespace with loopback up; it is deleted at cleanup. It
// skips the test when not root and fails it when ip is missing as root.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	testenv.RequireRoot(t, "network namespaces")
	testenv.Tool(t, "ip", "iproute2")
	n := &NS{Name: Unique(prefix) + fmt.Sprintf("%02d", counter.Add(1)%100)}
	Must(t, "ip", "netns", "add", n.Name)
	t.Cleanup(func() {
		// Processes left inside would keep interfaces alive: kill them
		// first (only those in this namespace).
		if out, err := exec.Command("ip", "netns", "pids", n.Name).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", n.Name).Run()
	})
	n.Must(t, "ip", "link", "set", "lo", "up")
	return n
}

// Command returns a command that runs inside the namespace.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Must runs a command inside the namespace and fails the test on error.
func (n *NS) Must(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s %s: %v\n%s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// MAC is the hardware address of device dev in the namespace, as
// Linux prints it (aa:bb:cc:dd:ee:ff).
func (n *NS) MAC(t testing.TB, dev string) string {
	t.Helper()
	return strings.TrimSpace(n.Must(t, "cat", "/sys/class/net/"+dev+"/address"))
}

// Must runs a command in the test's own namespace and fails on error.
func Must(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Do runs fn on an OS thread switched into the namespace. Sockets fn
// creates stay in the namespace after Do returns.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never handed back to the scheduler if switching
		// back fails: exiting the goroutine while locked kills it.
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + n.Name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return // thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Veth connects a and b with a veth pair named aIf in a and bIf in b, both
// up. Names should come from Unique. The pair goes away with a namespace.
func Veth(t testing.TB, a *NS, aIf string, b *NS, bIf string) {
	t.Helper()
	Must(t, "ip", "link", "add", aIf, "netns", a.Name, "type", "veth", "peer", "name", bIf, "netns", b.Name)
	a.Must(t, "ip", "link", "set", aIf, "up")
	b.Must(t, "ip", "link", "set", bIf, "up")
}

// Addr adds an address (CIDR) to an interface; IPv6 addresses skip
// duplicate address detection so they are usable at once.
func (n *NS) Addr(t testing.TB, ifname, cidr string) {
	t.Helper()
	if strings.Contains(cidr, ":") {
		n.Must(t, "ip", "addr", "add", cidr, "dev", ifname, "nodad")
		return
	}
	n.Must(t, "ip", "addr", "add", cidr, "dev", ifname)
}
