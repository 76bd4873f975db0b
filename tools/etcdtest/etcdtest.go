// Package etcdtest starts real etcd clusters for tests: members of the
// Debian etcd-server binary (/usr/bin/etcd) on loopback, on free ports,
// with their data in the test's temporary directory, killed at cleanup.
// Members can be killed (SIGKILL) and started again to test what a client
// does when the cluster loses a member or its quorum.
package etcdtest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/testenv"
)

// Member is one etcd process of a cluster.
type Member struct {
	Name      string
	ClientURL string
	PeerURL   string
	dir       string
	args      []string
	bin       string

	mu  sync.Mutex
	cmd *exec.Cmd
	log *os.File
}

// Cluster is a set of members started together.
type Cluster struct {
	Members []*Member
	t       testing.TB
}

// given holds the ports freePort has handed out in this process.
var (
	givenMu sync.Mutex
	given   = map[int]bool{}
)

// freePort returns a loopback port nothing listens on now. etcd is given
// its ports on the command line and binds them a moment later, so the port
// must not be taken in between: a port from the kernel's ephemeral range
// (where ":0" picks) can be, by any outgoing connection of a parallel test.
// The port is therefore drawn below that range (32768 on Linux by default),
// where only explicit listeners go.
func freePort(t testing.TB) int {
	t.Helper()
	givenMu.Lock()
	defer givenMu.Unlock()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if given[port] {
			continue // handed out before, perhaps not bound yet
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		given[port] = true
		return port
	}
	t.Fatal("no free loopback port between 20000 and 32000")
	return 0
}

// Start starts an n-member cluster and waits until it has a leader. The
// test is skipped when etcd is not installed and not root (failed as root).
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := testenv.Tool(t, "etcd", "etcd-server")
	c := &Cluster{t: t}
	var initial []string
	base := t.TempDir()
	token := fmt.Sprintf("wbtest-%d-%d", os.Getpid(), time.Now().UnixNano())
	for i := range n {
		m := &Member{
			Name:      fmt.Sprintf("m%d", i),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			dir:       filepath.Join(base, fmt.Sprintf("m%d", i)),
			bin:       bin,
		}
		initial = append(initial, m.Name+"="+m.PeerURL)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.args = []string{
			"--name", m.Name, "--data-dir", m.dir,
			"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
			"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new", "--initial-cluster-token", token,
			// Short election timings: a killed member is noticed quickly.
			"--heartbeat-interval", "50", "--election-timeout", "500",
			"--log-level", "warn", "--logger", "zap",
		}
		if err := m.start(); err != nil {
			c.Close()
			t.Fatalf("etcd %s: %v", m.Name, err)
		}
	}
	t.Cleanup(c.Close)
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		c.dumpLogs()
		t.Fatal(err)
	}
	return c
}

func (m *Member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return fmt.Errorf("already running")
	}
	f, err := os.OpenFile(m.dir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(m.bin, m.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	m.cmd, m.log = cmd, f
	return nil
}

// Kill stops the member with SIGKILL and waits for it to exit.
func (m *Member) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.log.Close()
	m.cmd = nil
}

// Restart starts a killed member again with its data.
func (m *Member) Restart() error {
	for i, a := range m.args {
		if a == "--initial-cluster-state" {
			m.args[i+1] = "existing"
		}
	}
	return m.start()
}

// Healthy reports whether the member answers /health with a leader.
func (m *Member) Healthy() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", m.ClientURL+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var line string
	if s := bufio.NewScanner(resp.Body); s.Scan() {
		line = s.Text()
	}
	return resp.StatusCode == 200 && strings.Contains(line, `"true"`)
}

// Endpoints returns the client URLs of all members.
func (c *Cluster) Endpoints() []string {
	var e []string
	for _, m := range c.Members {
		e = append(e, m.ClientURL)
	}
	return e
}

// WaitHealthy waits until every running member reports a leader.
func (c *Cluster) WaitHealthy(d time.Duration) error {
	end := time.Now().Add(d)
	for {
		ok := true
		for _, m := range c.Members {
			m.mu.Lock()
			running := m.cmd != nil
			m.mu.Unlock()
			if running && !m.Healthy() {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("etcd cluster not healthy after %v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) dumpLogs() {
	for _, m := range c.Members {
		b, _ := os.ReadFile(m.dir + ".log")
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		c.t.Logf("etcd %s log:\n%s", m.Name, b)
	}
}

// Close kills every member.
func (c *Cluster) Close() {
	for _, m := range c.Members {
		m.Kill()
	}
}
