package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/syncbuf"

	"github.com/wirebeat/wirebeat/server/gnmi"
)

// withGNMI starts the element's gNMI front end on a loopback port with a
// self-signed certificate, written to a file for gnmi_cli's -ca_crt.
func (e *element) withGNMI(t *testing.T) (addr, caFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wirebeat cli test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	gs, err := gnmi.New(e.core, gnmi.Options{TLS: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(context.Background(), ln) }()
	t.Cleanup(func() { gs.Close(); <-done })
	return ln.Addr().String(), caFile
}

// syncBuffer is an output buffer written by a process and read by the
// test.
type syncBuffer struct{ syncbuf.Buffer }

func (b *syncBuffer) wait(t *testing.T, what string, wants ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := b.String()
		all := true
		for _, w := range wants {
			all = all && strings.Contains(s, w)
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: output lacks %q:\n%s", what, wants, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// TestTerminalCommitSeenByNetconfAndGNMI is the first test of the issue:
// OpenSSH under a terminal (ssh -tt in tmux) configures a BFD profile and
// a session, shows the compare, commits; NETCONF get-config then returns
// the change, and gnmi_cli (openconfig's reference client), subscribed to
// /bfd before the commit, streams it.
func TestTerminalCommitSeenByNetconfAndGNMI(t *testing.T) {
	e := startElement(t)
	gaddr, ca := e.withGNMI(t)
	root := moduleRoot(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := exec.CommandContext(ctx, "go", "tool", "gnmi_cli", "-address", gaddr, "-ca_crt", ca, "-server_name", "localhost",
		"-with_user_pass", "-timeout", "60s", "-query", "/bfd", "-query_type", "s", "-display_type", "single")
	sub.Dir = root
	sub.Env = append(os.Environ(), "GNMI_USER=view", "GNMI_PASS="+passwords["view"])
	sub.Cancel = func() error { return sub.Process.Signal(os.Interrupt) }
	var subOut syncBuffer
	sub.Stdout, sub.Stderr = &subOut, &subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); sub.Wait() }()
	// The initial sync holds the profile that exists, and not yet ours.
	subOut.wait(t, "gnmi_cli initial sync", "default")
	if strings.Contains(subOut.String(), "fast") {
		t.Fatalf("the subscription saw the profile before the commit:\n%s", subOut.String())
	}

	tt := startTTY(t, e, "admin")
	tt.keys("configure", "Enter")
	tt.wait("admin@wb1#")
	tt.keys("set bfd profiles profile fast detection-multiplier 5", "Enter")
	tt.keys("set bfd profiles profile fast desired-min-tx-interval 300000", "Enter")
	tt.keys("edit bfd single-hop", "Enter")
	tt.wait("[edit bfd single-hop]")
	tt.keys("set session eth0 192.0.2.1 profile fast", "Enter")
	tt.keys("top", "Enter")
	tt.clear("admin@wb1#")
	tt.keys("show | compare", "Enter")
	sc := tt.wait("+    session eth0 192.0.2.1 {")
	mustContain(t, sc, "[edit bfd profiles]", "+    profile fast {", "+        detection-multiplier 5;", "[edit bfd single-hop]")
	if strings.Contains(subOut.String(), "fast") {
		t.Fatal("the candidate leaked to the gNMI subscription before the commit")
	}
	tt.keys(`commit comment "fast profile"`, "Enter")
	tt.wait("commit complete")

	nc := e.netconfGetConfig(t)
	mustContain(t, nc, "<name>fast</name>", "<detection-multiplier>5</detection-multiplier>",
		"<desired-min-tx-interval>300000</desired-min-tx-interval>", "<dest-addr>192.0.2.1</dest-addr>")
	subOut.wait(t, "gnmi_cli after the commit", "profile/fast/detection-multiplier", "profile/fast/desired-min-tx-interval", "session/192.0.2.1/eth0/profile")
	t.Logf("gnmi_cli:\n%s", subOut.String())

	tt.keys("exit", "Enter")
	tt.clear("admin@wb1>")
	tt.keys("show system commit", "Enter")
	tt.waitLine("show system commit", "admin", " cli ", "fast profile")
}

// ncSession is an OpenSSH netconf subsystem session kept open, fed one
// message at a time (base:1.0 end-of-message framing).
type ncSession struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin interface {
		Write([]byte) (int, error)
		Close() error
	}
	out *syncBuffer
	n   int // replies expected so far
}

func (e *element) netconfSession(t *testing.T) *ncSession {
	t.Helper()
	cmd := exec.Command("sshpass", append(e.sshArgs("admin", e.ncAddr, "-s"), "netconf")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	nc := &ncSession{t: t, cmd: cmd, stdin: stdin, out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = nc.out, nc.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	nc.send(`<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>`)
	nc.out.wait(t, "netconf hello", "</hello>")
	return nc
}

func (nc *ncSession) send(msg string) {
	nc.t.Helper()
	if _, err := nc.stdin.Write([]byte(msg + "]]>]]>")); err != nil {
		nc.t.Fatal(err)
	}
}

// rpc sends one operation and returns its reply.
func (nc *ncSession) rpc(op string) string {
	nc.t.Helper()
	nc.n++
	id := fmt.Sprintf(`message-id="%d"`, nc.n)
	nc.send(`<rpc ` + id + ` xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">` + op + `</rpc>`)
	nc.out.wait(nc.t, "netconf reply "+id, id)
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := nc.out.String()
		if i := strings.Index(s, id); i >= 0 {
			if j := strings.Index(s[i:], "]]>]]>"); j >= 0 {
				return s[i : i+j]
			}
		}
		if time.Now().After(deadline) {
			nc.t.Fatalf("no end of reply %s:\n%s", id, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const editHostname = `<edit-config><target><candidate/></target><config><system xmlns="urn:wirebeat:system"><hostname>%s</hostname></system></config></edit-config>`

// TestOneConfirmedCommitForCLIAndNetconf: the CLI and NETCONF share the
// element's one pending confirmed commit, so neither front end's commit
// can be undone by the other's timer. A CLI commit confirmed is confirmed
// by a NETCONF commit (any commit confirms it, as in Junos); a NETCONF one
// refuses a CLI commit, which would otherwise be rolled back with it, and
// stays the NETCONF session's to cancel.
func TestOneConfirmedCommitForCLIAndNetconf(t *testing.T) {
	e := startElement(t)
	out, rc := e.script(t, "admin", "configure\nset system hostname by-cli\ncommit confirmed 100\n")
	if rc != 0 {
		t.Fatalf("rc %d:\n%s", rc, out)
	}
	pc, pending := e.core.PendingConfirmed()
	if !pending || pc.Transport != "cli" || !pc.Open {
		t.Fatalf("pending after the CLI's commit confirmed: %v %+v", pending, pc)
	}
	out, _ = e.exec(t, "admin", "show system commit")
	mustContain(t, out, "commit confirmed by admin via cli", "any commit confirms it")

	nc := e.netconfSession(t)
	if r := nc.rpc(`<edit-config><target><candidate/></target><config><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>nc</name><detection-multiplier>6</detection-multiplier></profile></profiles></bfd></config></edit-config>`); !strings.Contains(r, "<ok/>") {
		t.Fatal(r)
	}
	if r := nc.rpc(`<commit/>`); !strings.Contains(r, "<ok/>") {
		t.Fatal(r)
	}
	if _, pending := e.core.PendingConfirmed(); pending {
		t.Fatal("the NETCONF commit did not confirm the CLI's commit confirmed")
	}
	if e.core.Running().GetSystem().GetHostname() != "by-cli" || e.core.Running().GetBfd().GetProfiles().GetProfile("nc") == nil {
		t.Fatal("a commit was lost")
	}

	// A NETCONF confirmed commit (no persist) is that session's.
	if r := nc.rpc(fmt.Sprintf(editHostname, "by-netconf")); !strings.Contains(r, "<ok/>") {
		t.Fatal(r)
	}
	if r := nc.rpc(`<commit><confirmed/><confirm-timeout>120</confirm-timeout></commit>`); !strings.Contains(r, "<ok/>") {
		t.Fatal(r)
	}
	before := e.core.Running()
	out, rc = e.script(t, "admin", "configure\nset bfd profiles profile cli2 detection-multiplier 4\ncommit\n")
	if rc == 0 {
		t.Fatalf("a CLI commit went through a NETCONF session's pending confirmed commit:\n%s", out)
	}
	mustContain(t, out, "a confirmed commit of session", "(user admin via netconf) is pending until")
	if e.core.Running() != before {
		t.Fatal("the refused CLI commit changed running")
	}
	// nor may the CLI extend it.
	out, _ = e.script(t, "admin", "configure\nset bfd profiles profile cli2 detection-multiplier 4\ncommit confirmed 1\n")
	mustContain(t, out, "(user admin via netconf) is pending until")
	if pc, _ := e.core.PendingConfirmed(); pc.Transport != "netconf" {
		t.Fatalf("pending now %+v", pc)
	}
	// Its session cancels it: running is back as before it.
	if r := nc.rpc(`<cancel-commit/>`); !strings.Contains(r, "<ok/>") {
		t.Fatal(r)
	}
	if h := e.core.Running().GetSystem().GetHostname(); h != "by-cli" {
		t.Fatalf("hostname %q after cancel-commit", h)
	}
	// A persistent one is confirmed by its persist-id only, which the CLI
	// has not: refused, naming the way out.
	if r := nc.rpc(fmt.Sprintf(editHostname, "persisted")); !strings.Contains(r, "<ok/>") {
		t.Fatal(r)
	}
	if r := nc.rpc(`<commit><confirmed/><persist>tok1</persist></commit>`); !strings.Contains(r, "<ok/>") {
		t.Fatal(r)
	}
	out, _ = e.script(t, "admin", "configure\nset bfd profiles profile cli3 detection-multiplier 4\ncommit\n")
	mustContain(t, out, "a persistent confirmed commit of session", "confirmed or cancelled with its persist-id")
	if r := nc.rpc(`<commit><persist-id>tok1</persist-id></commit>`); !strings.Contains(r, "<ok/>") {
		t.Fatal(r)
	}
	if _, pending := e.core.PendingConfirmed(); pending || e.core.Running().GetSystem().GetHostname() != "persisted" {
		t.Fatal("persist-id did not confirm")
	}
	out, _ = e.exec(t, "admin", "show system commit")
	mustContain(t, out, "unconfirmed commit rolled back (cancelled by admin via netconf)")
}
