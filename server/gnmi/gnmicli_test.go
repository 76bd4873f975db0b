package gnmi_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wbrun "github.com/wirebeat/wirebeat/tools/element"
	"github.com/wirebeat/wirebeat/tools/syncbuf"
)

// TestGNMICLI drives a running wirebeat with gnmi_cli, the reference
// client of openconfig/gnmi, pinned in go.mod as a tool: capabilities, a
// get of /system/hostname, a set, and a streaming subscription that sees
// the configuration change.
func TestGNMICLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the wirebeat binary")
	}
	root := moduleRoot(t)
	// gnmi_cli is built once by the first `go tool` run; later runs are
	// quick.
	warm := exec.Command("go", "tool", "gnmi_cli", "-help")
	warm.Dir = root
	warm.CombinedOutput()

	e := wbrun.Start(t, nil, "wirebeat", "", wbrun.Options{GNMI: true})
	addr, datadir := e.GNMI, e.Datadir
	cli := func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "gnmi_cli"}, cliArgs(addr, datadir, args...)...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GNMI_USER=admin", "GNMI_PASS="+wbrun.Password)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := cli("-capabilities")
	if err != nil || !strings.Contains(out, `"wirebeat-system"`) || !strings.Contains(out, "JSON_IETF") || !strings.Contains(out, "gNMI_version") {
		t.Fatalf("capabilities: %v\n%s", err, out)
	}
	hostGet := `path: <elem: <name: "system"> elem: <name: "hostname">> encoding: JSON_IETF`
	out, err = cli("-get", "-proto", hostGet)
	if err != nil || !strings.Contains(out, "wirebeat") {
		t.Fatalf("get: %v\n%s", err, out)
	}

	// A leaf whose default is in use has its value (specification
	// 3.3.4), and a JSON_IETF value below the root is module-qualified
	// (RFC 7951 section 4).
	passiveGet := `path: <elem: <name: "bfd"> elem: <name: "profiles"> elem: <name: "profile" key: <key: "name" value: "default">> elem: <name: "passive">> encoding: JSON_IETF`
	out, err = cli("-get", "-proto", passiveGet)
	if err != nil || !strings.Contains(out, "false") {
		t.Fatalf("get of a defaulted leaf: %v\n%s", err, out)
	}
	profileGet := `path: <elem: <name: "bfd"> elem: <name: "profiles">> encoding: JSON_IETF`
	out, err = cli("-get", "-proto", profileGet)
	if err != nil || !strings.Contains(out, "wirebeat-bfd:profile") {
		t.Fatalf("get of a container, JSON_IETF: %v\n%s", err, out)
	}

	// A streaming subscription, left running while the hostname changes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := exec.CommandContext(ctx, "go", append([]string{"tool", "gnmi_cli"}, cliArgs(addr, datadir, "-query", "/system/hostname", "-query_type", "s", "-display_type", "single")...)...)
	sub.Dir = root
	sub.Env = append(os.Environ(), "GNMI_USER=admin", "GNMI_PASS="+wbrun.Password)
	sub.Cancel = func() error { return sub.Process.Signal(os.Interrupt) }
	var subOut syncbuf.Buffer
	sub.Stdout, sub.Stderr = &subOut, &subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); sub.Wait() }()
	if !waitOutput(&subOut, "wirebeat") {
		t.Fatalf("stream: initial value not seen:\n%s", subOut.String())
	}

	out, err = cli("-set", "-proto", `update: <path: <elem: <name: "system"> elem: <name: "hostname">> val: <string_val: "set-by-gnmi-cli">>`)
	if err != nil || !strings.Contains(out, "UPDATE") {
		t.Fatalf("set: %v\n%s", err, out)
	}
	if !waitOutput(&subOut, "set-by-gnmi-cli") {
		t.Fatalf("stream: change not seen:\n%s", subOut.String())
	}
	out, err = cli("-get", "-proto", hostGet)
	if err != nil || !strings.Contains(out, "set-by-gnmi-cli") {
		t.Fatalf("get after set: %v\n%s", err, out)
	}
	t.Logf("gnmi_cli streaming output:\n%s", subOut.String())
	// A wrong password is refused.
	bad := exec.Command("go", append([]string{"tool", "gnmi_cli"}, cliArgs(addr, datadir, "-capabilities")...)...)
	bad.Dir = root
	bad.Env = append(os.Environ(), "GNMI_USER=admin", "GNMI_PASS=wrong")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "Unauthenticated") {
		t.Errorf("wrong password: %v\n%s", err, out)
	}
}

func cliArgs(addr, datadir string, args ...string) []string {
	return append([]string{"-address", addr, "-ca_crt", filepath.Join(datadir, "tls-cert.pem"), "-server_name", "localhost", "-with_user_pass", "-timeout", "20s"}, args...)
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// waitOutput waits, up to a failure deadline, for s in the output.
func waitOutput(b *syncbuf.Buffer, s string) bool {
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if strings.Contains(b.String(), s) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
