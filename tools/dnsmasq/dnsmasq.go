// Package dnsmasq starts the real dnsmasq (Debian package dnsmasq-base)
// as an authoritative-style DNS server for a few names inside a test's
// network namespace, and stops it at cleanup.
package dnsmasq

import (
	"fmt"
	"net/netip"
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

// Server is a running dnsmasq.
type Server struct {
	Addr netip.AddrPort
	cmd  *exec.Cmd
	log  syncbuf.Buffer
}

// Output is what dnsmasq logged.
func (s *Server) Output() string { return s.log.String() }

// StartDNS runs dnsmasq in ns answering on listen (port 53 when 0) for
// the names of hosts only (no upstream, no /etc/hosts), until the test
// ends. Every address of a name is answered.
func StartDNS(t testing.TB, ns *netns.NS, listen netip.Addr, hosts map[string][]netip.Addr) *Server {
	t.Helper()
	bin := testenv.Tool(t, "dnsmasq", "dnsmasq-base")
	dir := t.TempDir()
	var hf strings.Builder
	for name, addrs := range hosts {
		for _, a := range addrs {
			fmt.Fprintf(&hf, "%s %s\n", a, name)
		}
	}
	hostsFile := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hostsFile, []byte(hf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: netip.AddrPortFrom(listen, 53)}
	s.cmd = ns.Command(bin, "--keep-in-foreground", "--log-facility=-", "--log-queries", "--no-resolv", "--no-hosts",
		"--addn-hosts="+hostsFile, "--listen-address="+listen.String(), "--bind-interfaces", "--port=53",
		"--pid-file="+filepath.Join(dir, "pid"), "--user=root", "--conf-file=/dev/null")
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		if t.Failed() {
			t.Logf("dnsmasq log:\n%s", s.Output())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(s.Output(), "started, version") {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("dnsmasq did not start:\n%s", s.Output())
	return nil
}
