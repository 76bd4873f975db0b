package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

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
	tt.clear()
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
	tt.clear()
	tt.keys("show system commit", "Enter")
	tt.wait("fast profile")
}
