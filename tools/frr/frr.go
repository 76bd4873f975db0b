// Package frr starts FRR's bfdd (with the zebra it needs) inside a test's
// network namespace without systemd, reconfigures it through vtysh and
// reads its sessions as JSON. Daemons are killed and their directory
// removed when the test ends.
package frr

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

const libexec = "/usr/lib/frr"

// Daemons is one zebra + bfdd pair in a namespace.
type Daemons struct {
	NS  *netns.NS
	Dir string
}

// Start writes bfdConfig (the body of frr.conf, e.g. a "bfd" block) and
// starts zebra and bfdd in ns.
func Start(t testing.TB, ns *netns.NS, bfdConfig string) *Daemons {
	t.Helper()
	testenv.Tool(t, "vtysh", "frr")
	if _, err := os.Stat(filepath.Join(libexec, "bfdd")); err != nil {
		t.Fatalf("FRR bfdd not found: install Debian package frr (%v)", err)
	}
	dir, err := os.MkdirTemp("", "wbfrr")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemons{NS: ns, Dir: dir}
	t.Cleanup(func() {
		d.kill("bfdd", syscall.SIGKILL)
		d.kill("zebra", syscall.SIGKILL)
		if t.Failed() {
			for _, f := range []string{"bfdd.log", "zebra.log"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					t.Logf("%s:\n%s", f, tail(string(b), 4000))
				}
			}
		}
		os.RemoveAll(dir)
	})
	conf := "log file " + filepath.Join(dir, "bfdd.log") + " debugging\n" + bfdConfig
	if err := os.WriteFile(filepath.Join(dir, "frr.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zebra.conf"), []byte("log file "+filepath.Join(dir, "zebra.log")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	chownFRR(t, dir)
	common := []string{"-d", "-z", filepath.Join(dir, "zserv.api"), "--vty_socket", dir}
	ns.Must(t, filepath.Join(libexec, "zebra"), append(common, "-i", filepath.Join(dir, "zebra.pid"),
		"-f", filepath.Join(dir, "zebra.conf"))...)
	d.waitFile(t, "zserv.api")
	ns.Must(t, filepath.Join(libexec, "bfdd"), append(common, "-i", filepath.Join(dir, "bfdd.pid"),
		"--bfdctl", filepath.Join(dir, "bfdd.sock"), "-f", filepath.Join(dir, "frr.conf"))...)
	d.waitFile(t, "bfdd.vty")
	return d
}

func chownFRR(t testing.TB, dir string) {
	u, err := user.Lookup("frr")
	if err != nil {
		t.Fatalf("user frr (from the frr package): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
}

func (d *Daemons) waitFile(t testing.TB, name string) {
	t.Helper()
	for range 100 {
		if _, err := os.Stat(filepath.Join(d.Dir, name)); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("FRR did not create %s in %s", name, d.Dir)
}

func (d *Daemons) pid(name string) int {
	b, err := os.ReadFile(filepath.Join(d.Dir, name+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func (d *Daemons) kill(name string, sig syscall.Signal) {
	if pid := d.pid(name); pid > 0 {
		_ = syscall.Kill(pid, sig)
	}
}

// KillBFDD stops bfdd abruptly (SIGKILL), as a crash would: it sends
// nothing more.
func (d *Daemons) KillBFDD(t testing.TB) {
	t.Helper()
	pid := d.pid("bfdd")
	if pid == 0 {
		t.Fatal("bfdd pid unknown")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill bfdd: %v", err)
	}
}

// Vtysh runs vtysh commands (each a -c) against these daemons.
func (d *Daemons) Vtysh(t testing.TB, cmds ...string) string {
	t.Helper()
	args := []string{"--vty_socket", d.Dir}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("vtysh", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("vtysh %q: %v\n%s", cmds, err, out)
	}
	return string(out)
}

// Peer is one entry of 'show bfd peers json'.
type Peer struct {
	Multihop               bool   `json:"multihop"`
	Peer                   string `json:"peer"`
	Local                  string `json:"local"`
	Interface              string `json:"interface"`
	ID                     uint32 `json:"id"`
	RemoteID               uint32 `json:"remote-id"`
	Status                 string `json:"status"`
	Diagnostic             string `json:"diagnostic"`
	RemoteDiagnostic       string `json:"remote-diagnostic"`
	ReceiveInterval        int    `json:"receive-interval"`
	TransmitInterval       int    `json:"transmit-interval"`
	DetectMultiplier       int    `json:"detect-multiplier"`
	RemoteReceiveInterval  int    `json:"remote-receive-interval"`
	RemoteTransmitInterval int    `json:"remote-transmit-interval"`
	RemoteDetectMultiplier int    `json:"remote-detect-multiplier"`
}

// Peers returns bfdd's sessions.
func (d *Daemons) Peers(t testing.TB) []Peer {
	t.Helper()
	out := d.Vtysh(t, "show bfd peers json")
	var ps []Peer
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatalf("show bfd peers json: %v\n%s", err, out)
	}
	return ps
}

// PeerFor returns the session with peer address addr.
func (d *Daemons) PeerFor(t testing.TB, addr string) (Peer, error) {
	for _, p := range d.Peers(t) {
		if p.Peer == addr {
			return p, nil
		}
	}
	return Peer{}, fmt.Errorf("bfdd has no peer %s", addr)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
