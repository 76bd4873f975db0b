package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
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
	"github.com/wirebeat/wirebeat/server/internal/testelem"
	"github.com/wirebeat/wirebeat/server/netconf"
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
	signer := testelem.HostKey(b)
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

// BenchmarkCommitLatency: the same change (one leaf of a BFD profile, a
// new value each time) committed over a kept session from the CLI (set,
// commit) and from NETCONF (edit-config of the candidate, commit), on
// the same element, each timed until its front end says the commit is
// done. Both go through the core's one pipeline, so the figures should
// differ by the front ends' own cost only.
func BenchmarkCommitLatency(b *testing.B) {
	addr, core := benchElement(b, 0)
	signer := testelem.HostKey(b)
	nc, err := netconf.New(core, netconf.Options{HostKey: signer, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	nln, _ := net.Listen("tcp", "127.0.0.1:0")
	go nc.Serve(context.Background(), nln)
	b.Cleanup(func() { nc.Close() })
	n := 0
	next := func() int { n++; return n%250 + 2 }

	b.Run("cli", func(b *testing.B) {
		in, lines := benchChannel(b, addr, "")
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			fmt.Fprintf(in, "set bfd profiles profile bench detection-multiplier %d\ncommit\n", next())
			for l := range lines {
				if strings.Contains(l, "error") {
					b.Fatal(l)
				}
				if strings.HasPrefix(l, "commit complete (id") {
					break
				}
			}
		}
	})
	b.Run("netconf", func(b *testing.B) {
		in, msgs := benchChannel(b, nln.Addr().String(), "netconf")
		fmt.Fprint(in, `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>`)
		<-msgs // the server's hello
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			fmt.Fprintf(in, `<rpc message-id="%d" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><edit-config><target><candidate/></target><config><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>bench</name><detection-multiplier>%d</detection-multiplier></profile></profiles></bfd></config></edit-config></rpc>]]>]]>`+
				`<rpc message-id="c%d" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><commit/></rpc>]]>]]>`, i, next(), i)
			for range 2 {
				if m := <-msgs; !strings.Contains(m, "<ok/>") {
					b.Fatal(m)
				}
			}
		}
	})
}

// benchChannel opens a session channel as admin: a shell without a
// terminal (the CLI) or a subsystem. It returns its input and its output
// cut in lines (the CLI) or in NETCONF 1.0 messages (a subsystem).
func benchChannel(b *testing.B, addr, subsystem string) (io.Writer, <-chan string) {
	b.Helper()
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password("pw")},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	s, err := conn.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	in, _ := s.StdinPipe()
	outp, _ := s.StdoutPipe()
	if subsystem != "" {
		err = s.RequestSubsystem(subsystem)
	} else {
		in.Write([]byte("configure\n"))
		err = s.Shell()
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); s.Close(); conn.Close() })
	out := make(chan string, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(outp)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		if subsystem != "" {
			sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
				if i := bytes.Index(data, []byte("]]>]]>")); i >= 0 {
					return i + 6, data[:i], nil
				}
				if atEOF && len(data) > 0 {
					return len(data), data, nil
				}
				return 0, nil, nil
			})
		}
		for sc.Scan() {
			out <- sc.Text()
		}
	}()
	return in, out
}
