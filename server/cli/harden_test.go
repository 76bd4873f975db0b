package cli

import (
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
)

// TestCLISessionEndsWhenUserDeleted: an open CLI session (OpenSSH) of a
// user who is deleted ends (issue 16).
func TestCLISessionEndsWhenUserDeleted(t *testing.T) {
	e := startElement(t)
	cmd := exec.Command("sshpass", e.sshArgs("view", e.addr, "-T")...)
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	io.WriteString(stdin, "show system hostname\n")
	buf := make([]byte, 4096)
	var got strings.Builder
	for !strings.Contains(got.String(), "wb1") {
		n, err := out.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("before the deletion: %v: %s", err, got.String())
		}
	}
	sys := &server.Session{User: "system", Role: server.RoleAdmin, Transport: "system"}
	if err := e.core.Edit(sys, server.Running, func(root *gen.Device) error {
		root.GetSystem().GetAaa().GetUsers().DeleteUser("view")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, out); done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the CLI session of a deleted user is still open")
	}
}

// TestCLIWeakSSHAlgorithmsRefused: OpenSSH asking only for
// diffie-hellman-group14-sha1 or hmac-sha1-96 gets no connection.
func TestCLIWeakSSHAlgorithmsRefused(t *testing.T) {
	e := startElement(t)
	for _, opt := range []string{"KexAlgorithms=diffie-hellman-group14-sha1", "MACs=hmac-sha1-96"} {
		args := e.sshArgs("admin", e.addr, "-o", opt)
		if opt[0] == 'M' {
			args = e.sshArgs("admin", e.addr, "-o", opt, "-o", "Ciphers=aes128-ctr")
		}
		out, err := exec.Command("sshpass", append(args, "show system hostname")...).CombinedOutput()
		t.Logf("%s: %v: %s", opt, err, strings.TrimSpace(string(out)))
		if err == nil || strings.Contains(string(out), "wb1") {
			t.Errorf("%s: connected", opt)
		}
	}
	if out, rc := e.exec(t, "admin", "show system hostname"); rc != 0 || !strings.Contains(out, "wb1") {
		t.Errorf("default algorithms: %d %s", rc, out)
	}
}

// TestCLIPasswordHashesOnlyForAdmins: show reveals the hashes to admins
// only.
func TestCLIPasswordHashesOnlyForAdmins(t *testing.T) {
	e := startElement(t)
	for _, c := range []struct {
		user string
		sees bool
	}{{"admin", true}, {"view", false}} {
		for _, cmd := range []string{"show configuration system", "show system"} {
			out, _ := e.exec(t, c.user, cmd)
			if strings.Contains(out, "$2a$") != c.sees || !strings.Contains(out, "view") {
				t.Errorf("%s %q: hashes seen %v, want %v:\n%s", c.user, cmd, !c.sees, c.sees, out)
			}
		}
	}
}
