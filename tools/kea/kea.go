// Package kea starts the real ISC Kea DHCPv6 server (Debian package
// kea-dhcp6-server) inside a test's network namespace, with a
// configuration made from a few fields, and stops it at cleanup. It is
// shared by the tests that need DHCPv6 options from a real server (the
// DS-Lite B4's AFTR-Name, the lwB4's softwire options).
package kea

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/syncbuf"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// Option is one DHCPv6 option of the server's answers, by Kea's option
// name ("aftr-name", "dns-servers", ...) and its value in Kea's text form.
type Option struct {
	Name string `json:"name"`
	Data string `json:"data"`
}

// DHCPv6 describes a server: the interface it listens on, the subnet
// of that link and the options it hands out (to stateless
// information-requests too).
type DHCPv6 struct {
	Interface string
	Subnet    string // e.g. "2001:db8:1::/64"
	Pool      string // optional address pool, e.g. "2001:db8:1::100-2001:db8:1::1ff"
	Options   []Option
}

// Server is a running kea-dhcp6.
type Server struct {
	Cmd *exec.Cmd
	Dir string
	log syncbuf.Buffer // Kea's stdout and stderr
}

// StartDHCPv6 runs kea-dhcp6 in ns with cfg until the test ends; it
// fails the test when Kea does not come up.
func StartDHCPv6(t testing.TB, ns *netns.NS, cfg DHCPv6) *Server {
	t.Helper()
	bin := testenv.Tool(t, "kea-dhcp6", "kea-dhcp6-server")
	dir := t.TempDir()
	subnet := map[string]any{"id": 1, "subnet": cfg.Subnet, "interface": cfg.Interface, "option-data": cfg.Options}
	if cfg.Pool != "" {
		subnet["pools"] = []map[string]string{{"pool": cfg.Pool}}
	}
	conf := map[string]any{"Dhcp6": map[string]any{
		"interfaces-config": map[string]any{"interfaces": []string{cfg.Interface}},
		"lease-database":    map[string]any{"type": "memfile", "persist": false},
		"data-directory":    dir, // the server DUID file, outside /var/lib/kea
		"option-data":       cfg.Options,
		"subnet6":           []any{subnet},
		"loggers": []any{map[string]any{"name": "kea-dhcp6", "severity": "DEBUG", "debuglevel": 40,
			"output_options": []any{map[string]string{"output": "stdout"}}}},
	}}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kea-dhcp6.conf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Kea checks its configuration with -t first: a precise error
	// instead of a server that exits later.
	if out, err := ns.Command(bin, "-t", path).CombinedOutput(); err != nil {
		t.Fatalf("kea-dhcp6 -t: %v\n%s\n%s", err, out, b)
	}
	cmd := ns.Command("env", "KEA_LOCKFILE_DIR="+dir, "KEA_PIDFILE_DIR="+dir, bin, "-c", path)
	s := &Server{Cmd: cmd, Dir: dir}
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kea-dhcp6 log:\n%s", s.Output())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(s.Output(), "DHCP6_STARTED") {
			return s
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("kea-dhcp6 did not start:\n%s", s.Output())
	return nil
}

// Output is what Kea logged so far.
func (s *Server) Output() string { return s.log.String() }
