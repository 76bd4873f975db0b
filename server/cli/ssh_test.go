package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/server/internal/testelem"
	"github.com/wirebeat/wirebeat/server/netconf"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var passwords = map[string]string{"admin": "admin-secret", "oper": "operator-secret", "view": "viewer-secret"}

// element is a wirebeat core with its CLI and NETCONF servers on loopback
// ports, sharing one host key as wirebeat run does.
type element struct {
	core    *server.Server
	cli     *Server
	addr    string
	ncAddr  string
	dir     string
	sshOpts []string
}

func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Geteuid() == 0 {
				t.Fatalf("%s missing (make deps installs it)", n)
			}
			t.Skipf("SKIP: %s not installed (needs root to install)", n)
		}
	}
}

func startElement(t *testing.T) *element {
	t.Helper()
	needTool(t, "ssh", "sshpass")
	dir := t.TempDir()
	core, err := server.New(server.Options{DataDir: dir, Logger: quiet, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	testelem.Edit(t, core, func(root *gen.Device) {
		root.GetOrCreateSystem().Hostname = ygot.String("wb1")
		testelem.AddUsers(root, passwords["admin"], passwords["oper"], passwords["view"])
		p := root.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("default")
		p.DetectionMultiplier = ygot.Uint8(3)
	})
	signer := testelem.HostKey(t)
	c, err := New(core, Options{HostKey: signer, Logger: quiet, LoginDelay: 10 * time.Millisecond, ConfirmUnit: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go c.Serve(context.Background(), ln)
	nc, err := netconf.New(core, netconf.Options{HostKey: signer, Logger: quiet, LoginDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	nln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go nc.Serve(context.Background(), nln)
	t.Cleanup(func() { c.Close(); nc.Close(); core.Close() })
	return &element{core: core, cli: c, addr: ln.Addr().String(), ncAddr: nln.Addr().String(), dir: dir,
		sshOpts: []string{"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=30"}}
}

func (e *element) sshArgs(user, addr string, extra ...string) []string {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-p", passwords[user], "ssh"}
	args = append(args, e.sshOpts...)
	args = append(args, extra...)
	return append(args, "-p", port, user+"@"+host)
}

// exec runs one command with OpenSSH's exec request.
func (e *element) exec(t *testing.T, user, command string) (string, int) {
	t.Helper()
	cmd := exec.Command("sshpass", append(e.sshArgs(user, e.addr), command)...)
	out, err := cmd.CombinedOutput()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), rc
}

// script feeds lines to a shell without a terminal (ssh -T).
func (e *element) script(t *testing.T, user, input string) (string, int) {
	t.Helper()
	cmd := exec.Command("sshpass", e.sshArgs(user, e.addr, "-T")...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), rc
}

// netconfGetConfig asks NETCONF for running with OpenSSH's netconf
// subsystem.
func (e *element) netconfGetConfig(t *testing.T) string {
	t.Helper()
	msgs := `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>` +
		`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get-config><source><running/></source></get-config></rpc>]]>]]>` +
		`<rpc message-id="2" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><close-session/></rpc>]]>]]>`
	cmd := exec.Command("sshpass", append(e.sshArgs("admin", e.ncAddr, "-s"), "netconf")...)
	cmd.Stdin = strings.NewReader(msgs)
	out, _ := cmd.CombinedOutput() // the server closes the connection after close-session
	return string(out)
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestExecShowAndStatus(t *testing.T) {
	e := startElement(t)
	out, rc := e.exec(t, "view", "show configuration bfd | display set")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, out)
	}
	mustContain(t, out, "set bfd profiles profile default detection-multiplier 3")
	out, rc = e.exec(t, "view", "sh conf system hostname")
	if rc != 0 || strings.TrimSpace(out) != "hostname wb1;" {
		t.Fatalf("unique prefixes: rc %d %q", rc, out)
	}
	out, rc = e.exec(t, "view", "show bfd sessions | display json")
	if rc != 0 || !json.Valid([]byte(out)) {
		t.Fatalf("bfd sessions json: rc %d %q", rc, out)
	}
	out, rc = e.exec(t, "view", "show system users | match cli | count")
	mustContain(t, out, "Count: 1 lines")
	if rc != 0 {
		t.Fatal(rc)
	}
	// A failed command exits non-zero and names the word.
	out, rc = e.exec(t, "view", "show bfd profils")
	if rc == 0 {
		t.Fatalf("error exit 0: %s", out)
	}
	mustContain(t, out, `unknown word "profils"; did you mean "profiles"?`, "         ^")
}

// TestConfigureCommitSeenByNetconfAndMonitor configures a BFD profile and a session
// without a terminal (ssh -T), compares, commits, and reads the result back
// over NETCONF and from the event hub.
func TestConfigureCommitSeenByNetconfAndMonitor(t *testing.T) {
	e := startElement(t)
	sub := e.core.Hub().Subscribe(64, nil) // subscribed before the commit
	defer sub.Close()
	out, rc := e.script(t, "admin", strings.Join([]string{
		"configure",
		"set bfd profiles profile fast detection-multiplier 5",
		"set bfd profiles profile fast desired-min-tx-interval 300000",
		"edit bfd single-hop",
		"set session eth0 192.0.2.1 profile fast",
		"top",
		"show | compare",
		`commit comment "fast profile"`,
		"exit",
		"show system commit",
	}, "\n")+"\n")
	if rc != 0 {
		t.Fatalf("rc %d:\n%s", rc, out)
	}
	// show system commit: the columns the issue lists, and the commit.
	mustContain(t, out, "#  ID  User    Transport  Time", "admin   cli        20")
	mustContain(t, out, "[edit bfd profiles]\n+    profile fast {\n+        desired-min-tx-interval 300000;\n+        detection-multiplier 5;\n+    }\n[edit bfd single-hop]\n+    session eth0 192.0.2.1 {", "commit complete", "fast profile")
	nc := e.netconfGetConfig(t)
	mustContain(t, nc, "<name>fast</name>", "<detection-multiplier>5</detection-multiplier>", "<dest-addr>192.0.2.1</dest-addr>")
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.Commit != nil && ev.Commit.Transport == "cli" {
				return
			}
		case <-deadline:
			t.Fatal("no config-change event from the CLI commit")
		}
	}
}

func TestRollbackRestoresHostname(t *testing.T) {
	e := startElement(t)
	out, rc := e.script(t, "admin", "configure\nset system hostname wb2\ncommit\nrollback 1\nshow | compare\ncommit\n")
	if rc != 0 {
		t.Fatalf("rc %d:\n%s", rc, out)
	}
	mustContain(t, out, "-    hostname wb2;", "+    hostname wb1;")
	if h := e.core.Running().GetSystem().GetHostname(); h != "wb1" {
		t.Fatalf("hostname %q after rollback 1 + commit", h)
	}
}

func TestCommitConfirmedRollsBack(t *testing.T) {
	e := startElement(t)
	out, rc := e.script(t, "admin", "configure\nset system hostname temp\ncommit confirmed 1\n")
	if rc != 0 || e.core.Running().GetSystem().GetHostname() != "temp" {
		t.Fatalf("rc %d:\n%s", rc, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.core.Running().GetSystem().GetHostname() != "wb1" {
		if time.Now().After(deadline) {
			t.Fatal("confirmed commit not rolled back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Confirmed in time: it stays.
	out, rc = e.script(t, "admin", "configure\nset system hostname kept\ncommit confirmed 5\ncommit\n")
	if rc != 0 {
		t.Fatalf("rc %d:\n%s", rc, out)
	}
	mustContain(t, out, "will not be rolled back")
	time.Sleep(2 * time.Second)
	if h := e.core.Running().GetSystem().GetHostname(); h != "kept" {
		t.Fatalf("confirmed commit rolled back anyway: %q", h)
	}
}

// TestErrorsChangeNothing checks every error class: its message, the
// caret, and that running and the candidate stay as they were.
func TestErrorsChangeNothing(t *testing.T) {
	e := startElement(t)
	before := e.core.Running()
	cases := []struct{ line, want string }{
		{"set bfd profles profile x", `unknown word "profles"; did you mean "profiles"?`},
		{"set bfd profiles profile x detection-multiplier 0", "outside the range 1..255"},
		{"set bfd profiles profile x detection-multiplier", "missing value for detection-multiplier"},
		{"set bfd single-hop session eth0", "missing key dest-addr"},
		{"set bfd single-hop session eth0 not-an-address", `bad dest-addr of session: "not-an-address" is none of the types`},
		{"set bfd profiles profile x passive maybe", "not a boolean"},
		{"set system hostname -bad-", `"-bad-" does not match the pattern`},
		{"set bfd single-hop session eth0 192.0.2.9 profile nosuch", `[bfd single-hop session eth0 192.0.2.9 profile] "nosuch" refers to`},
		{"show | display yaml", `unknown display format "yaml"`},
		{"frobnicate", `unknown command "frobnicate"`},
		{`set system hostname "unterminated`, "unterminated quoted string"},
	}
	var in strings.Builder
	in.WriteString("configure\n")
	for _, c := range cases {
		in.WriteString(c.line + "\ncommit\n")
		in.WriteString("discard\n")
	}
	out, _ := e.script(t, "admin", in.String())
	for _, c := range cases {
		mustContain(t, out, c.want)
	}
	if e.core.Running() != before {
		t.Fatal("an error changed running")
	}
	// The caret sits under the bad word.
	mustContain(t, out, "  set bfd profles profile x\n          ^\n")
	// exit refuses with uncommitted changes.
	out, _ = e.script(t, "admin", "configure\nset system hostname zz\nexit\nexit discard\n")
	mustContain(t, out, "uncommitted changes", "Exiting configuration mode")
	if e.core.Running().GetSystem().GetHostname() != "wb1" {
		t.Fatal("exit discard committed")
	}
}

func TestRoles(t *testing.T) {
	e := startElement(t)
	out, rc := e.exec(t, "view", "configure")
	if rc == 0 {
		t.Fatalf("viewer entered configure: %s", out)
	}
	mustContain(t, out, "no access rule lets view (role viewer) write any configuration")
	out, _ = e.script(t, "oper", "configure\nset system hostname evil\ncommit\ndiscard\nset bfd profiles profile op detection-multiplier 4\ncommit\n")
	mustContain(t, out, "[system hostname] update access denied", "commit complete")
	if e.core.Running().GetSystem().GetHostname() != "wb1" {
		t.Fatal("operator changed /system")
	}
	if e.core.Running().GetBfd().GetProfiles().GetProfile("op") == nil {
		t.Fatal("operator could not change /bfd")
	}
}

func TestConflictAndLocks(t *testing.T) {
	e := startElement(t)
	// Two CLI sessions edit the same leaf: the second commit is refused
	// naming it; an edit elsewhere goes through and keeps the other's.
	cmd := exec.Command("sshpass", e.sshArgs("admin", e.addr, "-T")...)
	stdin, _ := cmd.StdinPipe()
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, "configure")
	fmt.Fprintln(stdin, "set system hostname from-a")
	fmt.Fprintln(stdin, "set bfd profiles profile pa detection-multiplier 7")
	waitFor(t, &buf, "admin@wb1# set bfd profiles profile pa")
	out, rc := e.script(t, "admin", "configure\nset system hostname from-b\ncommit\n")
	if rc != 0 {
		t.Fatalf("b: %s", out)
	}
	fmt.Fprintln(stdin, "commit")
	fmt.Fprintln(stdin, "discard")
	fmt.Fprintln(stdin, "set bfd profiles profile pa detection-multiplier 7")
	fmt.Fprintln(stdin, "commit")
	stdin.Close()
	cmd.Wait()
	mustContain(t, buf.String(), "running changed since configure at paths this candidate changes: [edit system hostname]", "commit complete")
	if e.core.Running().GetSystem().GetHostname() != "from-b" || e.core.Running().GetBfd().GetProfiles().GetProfile("pa") == nil {
		t.Fatal("wrong result after the conflict")
	}
	// A NETCONF lock held by another session blocks the commit.
	holder := e.core.OpenSession("admin", server.RoleAdmin, "netconf", "198.51.100.1")
	if err := e.core.Lock(holder, server.Running); err != nil {
		t.Fatal(err)
	}
	out, _ = e.script(t, "admin", "configure\nset system hostname locked\ncommit\n")
	mustContain(t, out, fmt.Sprintf("session %d (user admin via netconf) holds the lock of running", holder.ID))
	e.core.CloseSession(holder)
}

func waitFor(t *testing.T, buf *bytes.Buffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", s, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDisplayJSONValidatesAndSetReproduces checks show configuration |
// display json with yanglint, and feeds | display set into a fresh
// element's CLI to get the same configuration back.
func TestDisplayJSONValidatesAndSetReproduces(t *testing.T) {
	e := startElement(t)
	out, rc := e.script(t, "admin", "configure\nset bfd profiles profile p2 detection-multiplier 9\nset bfd profiles profile p2 passive true\nset bfd single-hop session eth1 2001:db8::1 profile p2\nset bfd sbfd reflector discriminator 9\nset bfd sbfd reflector discriminator 7\ncommit\n")
	if rc != 0 {
		t.Fatal(out)
	}
	js, rc := e.exec(t, "admin", "show configuration | display json")
	if rc != 0 || !json.Valid([]byte(js)) {
		t.Fatalf("json: rc %d: %s", rc, js)
	}
	if _, err := exec.LookPath("yanglint"); err == nil {
		f := filepath.Join(t.TempDir(), "config.json")
		os.WriteFile(f, []byte(js), 0o600)
		mods, _ := filepath.Glob("../../yang/wirebeat-*.yang")
		args := append([]string{"-f", "json", "-t", "config"}, mods...)
		if o, err := exec.Command("yanglint", append(args, f)...).CombinedOutput(); err != nil {
			t.Fatalf("yanglint: %v\n%s", err, o)
		}
	} else if os.Geteuid() == 0 {
		t.Fatal("yanglint missing")
	} else {
		t.Log("SKIP: yanglint not installed")
	}
	set, rc := e.exec(t, "admin", "show configuration | display set")
	if rc != 0 {
		t.Fatal(set)
	}
	// A leaf-list is one set line per value, in its order.
	mustContain(t, set, "set bfd sbfd reflector discriminator 9\nset bfd sbfd reflector discriminator 7\n")
	fresh := startElement(t)
	out, rc = fresh.script(t, "admin", "configure\n"+set+"commit\n")
	if rc != 0 {
		t.Fatalf("replay: %s", out)
	}
	a, _ := e.exec(t, "admin", "show configuration | display json")
	b, _ := fresh.exec(t, "admin", "show configuration | display json")
	if a != b {
		t.Fatalf("display set did not reproduce the configuration:\n%s\nvs\n%s", a, b)
	}
}
