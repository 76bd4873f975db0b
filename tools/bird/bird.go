// Package bird starts BIRD 2 inside a test's network namespace with a
// given configuration and reads its BFD sessions with birdc. The daemon is
// killed and its directory removed when the test ends.
package bird

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// Daemon is one running bird.
type Daemon struct {
	NS   *netns.NS
	Dir  string
	Sock string
}

// Start writes conf and runs bird in ns (as root, in the foreground of a
// child process so that the test owns it).
func Start(t testing.TB, ns *netns.NS, conf string) *Daemon {
	t.Helper()
	birdPath := testenv.Tool(t, "bird", "bird2")
	testenv.Tool(t, "birdc", "bird2")
	dir, err := os.MkdirTemp("", "wbbird")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{NS: ns, Dir: dir, Sock: filepath.Join(dir, "bird.ctl")}
	cfg := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command(birdPath, "-f", "-c", cfg, "-s", d.Sock, "-P", filepath.Join(dir, "bird.pid"))
	logf, err := os.Create(filepath.Join(dir, "bird.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start bird: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		d.kill()
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "bird.log")); err == nil {
				t.Logf("bird.log:\n%s", b)
			}
		}
		os.RemoveAll(dir)
	})
	for range 100 {
		if _, err := os.Stat(d.Sock); err == nil {
			return d
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "bird.log"))
			t.Fatalf("bird exited:\n%s", b)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("bird did not create its control socket")
	return nil
}

// kill stops the bird process itself (ip netns exec has exec'd into it,
// but the pid file is authoritative).
func (d *Daemon) kill() {
	b, err := os.ReadFile(filepath.Join(d.Dir, "bird.pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Birdc runs one birdc command.
func (d *Daemon) Birdc(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("birdc", append([]string{"-s", d.Sock}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("birdc %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// SessionState returns BIRD's state of the BFD session with peer addr
// ("Up", "Down", "Init", "AdminDown"), or "" when it has none.
func (d *Daemon) SessionState(t testing.TB, addr string) string {
	t.Helper()
	for _, line := range strings.Split(d.Birdc(t, "show", "bfd", "sessions"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == addr {
			return f[2]
		}
	}
	return ""
}
