package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"golang.org/x/crypto/ssh"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// TestAttacksOnRunningElement replays the attacks of issue 16 against a
// `wirebeat run` process: each is answered, an admin (from another source
// address) is served meanwhile, the process's peak RSS is logged after
// each, and SIGTERM stops the element in the middle of a login flood.
func TestAttacksOnRunningElement(t *testing.T) {
	const pw = "attack-test-admin"
	dir := t.TempDir()
	e := start(t, []string{"WIREBEAT_ADMIN_PASSWORD=" + pw}, "--datadir", dir, "--cli", "")
	ncAddr := regexp.MustCompile(`NETCONF: listening on (\S+)`).FindStringSubmatch(e.output())
	gnmiAddr := regexp.MustCompile(`gNMI: listening on (\S+)`).FindStringSubmatch(e.output())
	if ncAddr == nil || gnmiAddr == nil {
		t.Fatalf("no listeners in:\n%s", e.output())
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	gnmiFrom := func(src, user, pass string) (gpb.GNMIClient, func()) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		conn, err := grpc.NewClient(gnmiAddr[1],
			grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})),
			grpc.WithPerRPCCredentials(metaCreds{user, pass}),
			grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
		if err != nil {
			t.Fatal(err)
		}
		return gpb.NewGNMIClient(conn), func() { conn.Close() }
	}
	admin, closeAdmin := gnmiFrom("127.0.0.2", "admin", pw)
	defer closeAdmin()
	hostname := &gpb.GetRequest{Path: []*gpb.Path{{Elem: []*gpb.PathElem{{Name: "system"}, {Name: "hostname"}}}}}
	if _, err := admin.Get(context.Background(), hostname); err != nil {
		t.Fatalf("admin: %v", err)
	}
	adminNC := func() time.Duration {
		t0 := time.Now()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: time.Minute}
		c, err := d.Dial("tcp", ncAddr[1])
		if err != nil {
			t.Errorf("admin NETCONF dial: %v", err)
			return 0
		}
		defer c.Close()
		sc, chans, reqs, err := ssh.NewClientConn(c, ncAddr[1], &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password(pw)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
		if err != nil {
			t.Errorf("admin NETCONF login: %v", err)
			return 0
		}
		ssh.NewClient(sc, chans, reqs).Close()
		return time.Since(t0)
	}
	peak := func() string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.cmd.Process.Pid))
		m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
		if m == nil {
			return "?"
		}
		kb, _ := strconv.Atoi(string(m[1]))
		return fmt.Sprintf("%d MiB", kb>>10)
	}
	during := func(name string, attack func()) {
		done := make(chan struct{})
		go func() { defer close(done); attack() }()
		time.Sleep(50 * time.Millisecond)
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		_, err := admin.Get(ctx, hostname)
		cancel()
		g := time.Since(t0)
		n := adminNC()
		if err != nil {
			t.Errorf("%s: admin gNMI Get: %v", name, err)
		}
		<-done
		t.Logf("%-40s admin gNMI Get %-12v admin NETCONF login %-12v peak RSS so far %s", name, g.Round(time.Microsecond), n.Round(time.Microsecond), peak())
	}
	t.Logf("%-40s peak RSS %s", "started", peak())

	during("gNMI Get of 10,000 '...'", func() {
		c, done := gnmiFrom("127.0.0.1", "admin", pw)
		defer done()
		p := &gpb.Path{}
		for i := 0; i < 10000; i++ {
			p.Elem = append(p.Elem, &gpb.PathElem{Name: "..."})
		}
		if _, err := c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{p}}); err == nil {
			t.Error("10,000 '...' accepted")
		}
	})
	during("12 gNMI Sets of 100 MB, wrong password", func() {
		big := &gpb.SetRequest{Update: []*gpb.Update{{
			Path: &gpb.Path{Elem: []*gpb.PathElem{{Name: "system"}, {Name: "hostname"}}},
			Val:  &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: strings.Repeat("h", 100<<20)}},
		}}}
		var wg sync.WaitGroup
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, done := gnmiFrom("127.0.0.3", "admin", "wrong")
				defer done()
				if _, err := c.Set(context.Background(), big); err == nil {
					t.Error("Set with a wrong password accepted")
				}
			}()
		}
		wg.Wait()
	})
	during("50 NETCONF sessions announcing #67000000", func() {
		var conns []*ssh.Client
		for i := 0; i < 50; i++ {
			c, err := ssh.Dial("tcp", ncAddr[1], &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password(pw)}, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: time.Minute})
			if err != nil {
				t.Errorf("session %d: %v", i, err)
				break
			}
			conns = append(conns, c)
			s, _ := c.NewSession()
			in, _ := s.StdinPipe()
			out, _ := s.StdoutPipe()
			go io.Copy(io.Discard, out)
			s.RequestSubsystem("netconf")
			io.WriteString(in, `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>]]>]]>`)
			io.WriteString(in, "\n#67000000\n<rpc")
		}
		time.Sleep(time.Second)
		for _, c := range conns {
			c.Close()
		}
	})
	during("NETCONF 10,000 namespace declarations", func() {
		c, err := ssh.Dial("tcp", ncAddr[1], &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password(pw)}, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: time.Minute})
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		s, _ := c.NewSession()
		in, _ := s.StdinPipe()
		out, _ := s.StdoutPipe()
		s.RequestSubsystem("netconf")
		var b strings.Builder
		b.WriteString(`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get><filter>`)
		for i := 0; i < 10000; i++ {
			fmt.Fprintf(&b, `<a xmlns:p%d="urn:x:%d">`, i, i)
			if i%100 == 99 {
				b.WriteString(strings.Repeat("</a>", 100))
			}
		}
		b.WriteString(`</filter></get></rpc>`)
		io.WriteString(in, `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>`)
		io.WriteString(in, b.String()+"]]>]]>")
		buf := make([]byte, 64<<10)
		var got strings.Builder
		for !strings.Contains(got.String(), "</rpc-reply>") {
			n, err := out.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				t.Errorf("namespace message: %v", err)
				return
			}
		}
	})
	// A flood of wrong-password logins, and SIGTERM in the middle of it.
	ctx, stopFlood := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, done := gnmiFrom("127.0.0.4", fmt.Sprintf("nobody%d", i), "wrong")
			defer done()
			for j := 0; j < 25 && ctx.Err() == nil; j++ {
				var inner sync.WaitGroup
				for k := 0; k < 4; k++ {
					inner.Add(1)
					go func() { defer inner.Done(); c.Get(ctx, hostname) }()
				}
				inner.Wait()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	_, err = admin.Get(context.Background(), hostname)
	t.Logf("%-40s admin gNMI Get %-12v admin NETCONF login %-12v peak RSS so far %s (err %v)", "login flood (4,000 wrong passwords)", time.Since(t0).Round(time.Microsecond), adminNC().Round(time.Microsecond), peak(), err)
	t1 := time.Now()
	code := e.stop(t)
	t.Logf("SIGTERM during the flood: exit %d after %v", code, time.Since(t1).Round(time.Millisecond))
	stopFlood()
	wg.Wait()
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM: %s", code, e.stderr.String())
	}
}

type metaCreds struct{ user, pass string }

func (m metaCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"username": m.user, "password": m.pass}, nil
}
func (metaCreds) RequireTransportSecurity() bool { return true }
