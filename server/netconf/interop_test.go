package netconf

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/tools/testenv"

	gonetconf "github.com/Juniper/go-netconf/netconf"
)

// python3-ncclient is installed for Debian's /usr/bin/python3, which may
// not be the first python3 on PATH.
const debianPython = "/usr/bin/python3"

func requireNcclient(t *testing.T) {
	t.Helper()
	testenv.Tool(t, debianPython, "python3")
	if err := exec.Command(debianPython, "-c", "import ncclient").Run(); err != nil {
		if testenv.IsRoot() {
			t.Fatalf("ncclient missing for %s: install Debian package python3-ncclient (make deps does)", debianPython)
		}
		testenv.Skip(t, "python3-ncclient not installed; installing it needs root")
	}
}

// Real client: ncclient from Debian, one scenario per subtest.
func TestNcclient(t *testing.T) {
	requireNcclient(t)
	e := startElement(t)
	host, port, _ := net.SplitHostPort(e.addr)
	for _, sc := range []string{"hello", "candidate", "filters", "locks", "confirmed", "validate"} {
		t.Run(sc, func(t *testing.T) {
			out, err := exec.Command(debianPython, "testdata/ncclient_client.py", host, port, "admin", adminPW, sc).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "OK") {
				t.Fatalf("ncclient %s: %v\n%s", sc, err, out)
			}
		})
	}
}

// Real client: Juniper's go-netconf, which speaks base:1.0 framing only.
func TestGoNetconfClient(t *testing.T) {
	e := startElement(t)
	s, err := gonetconf.DialSSH(e.addr, gonetconf.SSHConfigPassword("admin", adminPW))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer s.Close()
	if s.SessionID == 0 {
		t.Error("no session id from the server hello")
	}
	reply, err := s.Exec(gonetconf.RawMethod(`<edit-config><target><running/></target><config><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>gn</name><detection-multiplier>7</detection-multiplier></profile></profiles></bfd></config></edit-config>`))
	if err != nil || len(reply.Errors) > 0 || !strings.Contains(reply.Data, "<ok/>") { // its Ok field never fills: it looks for <Ok>
		t.Fatalf("edit-config: %v %+v", err, reply)
	}
	reply, err = s.Exec(gonetconf.MethodGetConfig("running"))
	if err != nil || !strings.Contains(reply.Data, "<name>gn</name><detection-multiplier>7</detection-multiplier>") {
		t.Fatalf("get-config: %v %+v", err, reply)
	}
	reply, err = s.Exec(gonetconf.RawMethod(`<edit-config><target><running/></target><config><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>gn</name><detection-multiplier>0</detection-multiplier></profile></profiles></bfd></config></edit-config>`))
	if err == nil {
		t.Fatalf("invalid edit accepted: %+v", reply)
	}
	if !strings.Contains(err.Error(), "is outside") {
		t.Errorf("error = %v", err)
	}
	if got := e.core.Running().GetBfd().GetProfiles().GetProfile("gn").GetDetectionMultiplier(); got != 7 {
		t.Errorf("multiplier = %d after a refused edit", got)
	}
}

// Real client: OpenSSH's ssh -s netconf, public-key login, a hand-written
// hello, then a chunked exchange.
func TestOpenSSHSubsystem(t *testing.T) {
	sshBin := testenv.Tool(t, "ssh", "openssh-client")
	e := startElement(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(keyFile + ".pub")
	sys := &server.Session{User: "system", Role: server.RoleAdmin, Transport: "system"}
	if err := e.core.Edit(sys, server.Running, func(root *gen.Device) error {
		u := root.GetSystem().GetAaa().GetUsers().GetUser("admin")
		k := u.GetOrCreateAuthorizedKey("test")
		k.Key = ygot.String(strings.TrimSpace(string(pub)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(e.addr)
	cmd := exec.Command(sshBin, "-q", "-i", keyFile, "-p", port, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-s", "admin@"+host, "netconf")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	fr := newFramer(out, in, 1<<20)
	hello, err := fr.readMessage()
	if err != nil {
		t.Fatalf("no hello over OpenSSH: %v; ssh said: %s", err, stderr.String())
	}
	if !strings.Contains(string(hello), "urn:ietf:params:netconf:base:1.1") {
		t.Fatalf("hello: %s", hello)
	}
	io.WriteString(in, `<?xml version="1.0" encoding="UTF-8"?>
<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
  <capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities>
</hello>]]>]]>`)
	// Chunked from here on, the request split over two chunks.
	chunk := func(s string) string { return fmt.Sprintf("\n#%d\n%s", len(s), s) }
	io.WriteString(in, chunk(`<rpc message-id="101" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">`)+
		chunk(`<get-config><source><running/></source></get-config></rpc>`)+"\n##\n")
	fr.chunked = true
	reply, err := fr.readMessage()
	if err != nil {
		t.Fatalf("chunked reply: %v", err)
	}
	if !strings.Contains(string(reply), `message-id="101"`) || !strings.Contains(string(reply), "<name>admin</name>") {
		t.Errorf("reply: %s", reply)
	}
	io.WriteString(in, chunk(`<rpc message-id="102" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><close-session/></rpc>`)+"\n##\n")
	if reply, err := fr.readMessage(); err != nil || !strings.Contains(string(reply), "<ok/>") {
		t.Errorf("close-session: %v %s", err, reply)
	}
}

// Real client: yangcli (Debian yangcli, from yuma123) in batch mode sets
// and reads /system/hostname. It learns our modules from the hello and
// fetches them with get-schema.
func TestYangcli(t *testing.T) {
	yangcli := testenv.Tool(t, "yangcli", "yangcli")
	e := startElement(t)
	host, port, _ := net.SplitHostPort(e.addr)
	dir := t.TempDir()
	script := filepath.Join(dir, "set-hostname.yc")
	os.WriteFile(script, []byte("merge /system/hostname value=yc-host\ncommit\nxget /system/hostname\n"), 0o600)
	cmd := exec.Command(yangcli, "--server="+host, "--ncport="+port, "--user=admin", "--password="+adminPW,
		"--batch-mode", "--run-script="+script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir) // yangcli keeps its history and cache under $HOME
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("yangcli: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`hostname yc-host`).Match(out) {
		t.Errorf("yangcli did not read the hostname back:\n%s", out)
	}
	if got := e.core.Running().GetSystem().GetHostname(); got != "yc-host" {
		t.Errorf("running hostname = %q after yangcli's merge and commit", got)
	}
}
