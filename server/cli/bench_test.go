package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
)

// benchElement is a core with n bindings and its CLI, for benchmarks
// (x/crypto/ssh as the client: the benchmark measures the element).
func benchElement(b *testing.B, n int) (string, *server.Server) {
	b.Helper()
	core, err := server.New(server.Options{DataDir: b.TempDir(), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	sys := &server.Session{User: "system", Role: server.RoleAdmin, Transport: "system"}
	if err := core.Edit(sys, server.Running, func(root *gen.Device) error {
		u := root.GetOrCreateSystem().GetOrCreateAaa().GetOrCreateUsers().GetOrCreateUser("admin")
		u.Password, u.Role = ygot.String("pw"), gen.WirebeatSystem_UserRole_admin
		bt := root.GetOrCreateSoftwire().GetOrCreateLwaftr().GetOrCreateBindingTable()
		for i := 0; i < n; i++ {
			addr := i / 64
			sw := bt.GetOrCreateSoftwire(fmt.Sprintf("10.%d.%d.%d", addr>>16&255, addr>>8&255, addr&255), uint16(i%64))
			sw.B4Ipv6 = ygot.String(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff))
			sw.BrAddress = ygot.String("2001:db8::1")
			sw.GetOrCreatePortSet().PsidLength = ygot.Uint8(6)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	c, _ := New(core, Options{HostKey: signer, Logger: quiet, MaxSessions: 200})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go c.Serve(context.Background(), ln)
	b.Cleanup(func() { c.Close(); core.Close() })
	return ln.Addr().String(), core
}

func execGo(addr, command string) (string, error) {
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password("pw")},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	s, err := conn.NewSession()
	if err != nil {
		return "", err
	}
	out, err := s.CombinedOutput(command)
	return string(out), err
}

// BenchmarkBindingTableCount: show softwire lwaftr binding-table | count
// with WB_CLI_BINDINGS bindings (default 100,000; 1,000,000 for the
// figure of the issue). Lines are counted as they are made; the text of
// the table never exists as a whole.
func BenchmarkBindingTableCount(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("WB_CLI_BINDINGS")); err == nil && v > 0 {
		n = v
	}
	addr, _ := benchElement(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := execGo(addr, "show softwire lwaftr binding-table | count")
		if err != nil || !strings.Contains(out, "Count: ") {
			b.Fatalf("%v %q", err, out)
		}
	}
}

// Benchmark50Sessions: 50 concurrent CLI sessions each running a show.
func Benchmark50Sessions(b *testing.B) {
	addr, _ := benchElement(b, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for j := 0; j < 50; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := execGo(addr, "show system users | count"); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
}
