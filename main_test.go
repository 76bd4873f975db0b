package main

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/server"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wirebeat-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wirebeat")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// element is a running `wirebeat run` process.
type element struct {
	cmd    *exec.Cmd
	stdout *bufio.Reader
	stderr bytes.Buffer
	lines  []string
}

func start(t *testing.T, env []string, args ...string) *element {
	t.Helper()
	// Listeners on free ports unless a test says otherwise: the defaults
	// may be taken on a shared machine.
	ports := []string{"--netconf", "127.0.0.1:0", "--gnmi", "127.0.0.1:0", "--cli", "127.0.0.1:0"}
	e := &element{cmd: exec.Command(binary, append(append([]string{"run"}, ports...), args...)...)}
	e.cmd.Env = append(os.Environ(), "WIREBEAT_ADMIN_PASSWORD=")
	e.cmd.Env = append(e.cmd.Env, env...)
	out, err := e.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	e.cmd.Stderr = &e.stderr
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.cmd.Process.Kill(); e.cmd.Wait() })
	e.stdout = bufio.NewReader(out)
	// Read until the element says it runs (or exits).
	for {
		line, err := e.stdout.ReadString('\n')
		if line != "" {
			e.lines = append(e.lines, strings.TrimSpace(line))
		}
		if strings.HasPrefix(line, "running;") || err != nil {
			return e
		}
	}
}

func (e *element) output() string { return strings.Join(e.lines, "\n") }

// stop sends SIGTERM and returns the exit code.
func (e *element) stop(t *testing.T) int {
	t.Helper()
	e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, e.stdout); done <- e.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("element did not stop on SIGTERM")
	}
	return e.cmd.ProcessState.ExitCode()
}

func TestFirstStartGeneratesAdminPassword(t *testing.T) {
	dir := t.TempDir()
	e := start(t, nil, "--datadir", dir)
	pwFile := filepath.Join(dir, "initial-admin-password")
	if !strings.Contains(e.output(), pwFile) {
		t.Errorf("output does not name the password file:\n%s", e.output())
	}
	if !strings.Contains(e.output(), "NETCONF: listening on 127.0.0.1:") || !strings.Contains(e.output(), "gNMI: listening on 127.0.0.1:") {
		t.Errorf("output does not say where the front ends listen:\n%s", e.output())
	}
	help, _ := exec.Command(binary, "run", "-h").CombinedOutput()
	for _, want := range []string{"127.0.0.1:8830", "127.0.0.1:9339", "127.0.0.1:8022"} {
		if !strings.Contains(string(help), want) {
			t.Errorf("run -h does not give the loopback default %s:\n%s", want, help)
		}
	}
	if code := e.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; stderr:\n%s", code, e.stderr.String())
	}
	fi, err := os.Stat(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v, want 0600", fi.Mode().Perm())
	}
	pw, _ := os.ReadFile(pwFile)
	password := strings.TrimSpace(string(pw))
	if len(password) < 16 {
		t.Errorf("generated password %q is short", password)
	}
	saved, _ := filepath.Glob(filepath.Join(dir, "config", "*"))
	if len(saved) == 0 {
		t.Error("no saved configuration in the datadir")
	}
	for _, f := range append([]string{"ssh_host_ed25519_key", "tls-key.pem", "tls-cert.pem", "config"}, saved...) {
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if filepath.Base(f) != "tls-cert.pem" && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v", f, fi.Mode().Perm())
		}
	}
	for _, f := range saved {
		if data, _ := os.ReadFile(f); bytes.Contains(data, []byte(password)) {
			t.Errorf("%s holds the clear-text admin password", f)
		}
	}
	// The saved configuration authenticates the admin with that password.
	srv, err := server.New(server.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if u, err := srv.Authenticate("admin", password); err != nil || u.Role != server.RoleAdmin {
		t.Errorf("admin login with the generated password: %v %v", u, err)
	}
	if _, err := srv.Authenticate("admin", "admin"); err == nil {
		t.Error("a default password works")
	}
}

func TestAdminPasswordFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	e := start(t, []string{"WIREBEAT_ADMIN_PASSWORD=s3cret-from-env"}, "--datadir", dir, "--netconf", "", "--gnmi", "", "--cli", "")
	if code := e.stop(t); code != 0 {
		t.Fatalf("exit %d: %s", code, e.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "initial-admin-password")); err == nil {
		t.Error("password file written although the password came from the environment")
	}
	if !strings.Contains(e.output(), "NETCONF: off") {
		t.Errorf("empty --netconf did not turn the listener off:\n%s", e.output())
	}
	// A second start keeps the user and its key material.
	key1, _ := os.ReadFile(filepath.Join(dir, "ssh_host_ed25519_key"))
	e = start(t, nil, "--datadir", dir)
	if strings.Contains(e.output(), "user admin created") {
		t.Error("admin recreated on the second start")
	}
	e.stop(t)
	key2, _ := os.ReadFile(filepath.Join(dir, "ssh_host_ed25519_key"))
	if !bytes.Equal(key1, key2) {
		t.Error("host key changed between starts")
	}
}

func TestConfigFlag(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"wirebeat-system:system":{"hostname":"from-flag"}}`), 0o600)
	e := start(t, nil, "--datadir", dir, "--config", cfg)
	e.stop(t)
	srv, err := server.New(server.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Running().GetSystem().GetHostname(); got != "from-flag" {
		t.Errorf("--config not applied and saved; hostname %q", got)
	}
	srv.Close()

	// A configuration that does not validate stops the element with an
	// error naming the offending path.
	os.WriteFile(cfg, []byte(`{"wirebeat-bfd:bfd":{"profiles":{"profile":[{"name":"p","detection-multiplier":0}]}}}`), 0o600)
	cmd := exec.Command(binary, "run", "--datadir", t.TempDir(), "--config", cfg)
	out, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("invalid --config accepted: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "/bfd/profiles/profile[name=p]/detection-multiplier") {
		t.Errorf("error does not name the path:\n%s", out)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"run", "--netconf", "nonsense"}, {"run", "extra"}, {"frobnicate"}} {
		cmd := exec.Command(binary, args...)
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() == 0 {
			t.Errorf("%v: exit 0\n%s", args, out)
		}
	}
}

// The element's NETCONF listener answers with the datadir's host key and
// the first administrator's password: the wiring of `wirebeat run`.
func TestRunServesNetconf(t *testing.T) {
	dir := t.TempDir()
	e := start(t, []string{"WIREBEAT_ADMIN_PASSWORD=wired-up-secret"}, "--datadir", dir)
	defer e.stop(t)
	m := regexp.MustCompile(`NETCONF: listening on (\S+)`).FindStringSubmatch(e.output())
	if m == nil {
		t.Fatalf("no NETCONF address in:\n%s", e.output())
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", m[1], &ssh.ClientConfig{
		User: "admin", Auth: []ssh.AuthMethod{ssh.Password("wired-up-secret")},
		HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey()), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh to the element: %v", err)
	}
	defer conn.Close()
	s, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.RequestSubsystem("netconf"); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>`+
		`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get-config><source><running/></source></get-config></rpc>]]>]]>`)
	r := bufio.NewReader(out)
	var got strings.Builder
	for !strings.Contains(got.String(), "</rpc-reply>") {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("reading the reply: %v; so far: %s", err, got.String())
		}
		got.WriteByte(b)
	}
	if !strings.Contains(got.String(), "<name>admin</name>") || !strings.Contains(got.String(), "<name>default</name>") {
		t.Errorf("get-config of the running element:\n%s", got.String())
	}
}
