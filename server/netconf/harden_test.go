package netconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/server/internal/testelem"
)

// Tests of issue 16 for NETCONF: each sends what the attack sent and
// checks the bound, the error, that nothing changed, and that an admin
// session opened meanwhile is served (its latency is logged).

func startLimitedNC(t testing.TB, lim server.Limits) *element {
	t.Helper()
	dir := t.TempDir()
	core, err := server.New(server.Options{DataDir: dir, Logger: quiet, Version: "test", Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	testelem.Edit(t, core, func(root *gen.Device) {
		testelem.AddUsers(root, adminPW, operatorPW, viewerPW)
		root.GetOrCreateSystem().Hostname = ygot.String("wb-test")
	})
	signer := testelem.HostKey(t)
	nc, err := New(core, Options{HostKey: signer, Logger: quiet, LoginDelay: 10 * time.Millisecond, MaxMessage: lim.WithDefaults().MaxMessage})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go nc.Serve(context.Background(), ln)
	t.Cleanup(func() { nc.Close(); core.Close() })
	return &element{core: core, nc: nc, addr: ln.Addr().String(), dir: dir}
}

// rawSession opens an SSH channel with the netconf subsystem and nothing
// more: the caller writes what it wants.
func rawSession(t testing.TB, e *element, user, pw string) (io.WriteCloser, io.Reader, *ssh.Client) {
	t.Helper()
	conn, err := ssh.Dial("tcp", e.addr, &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 60 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	s, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.RequestSubsystem("netconf"); err != nil {
		t.Fatal(err)
	}
	return in, out, conn
}

// adminServed opens an admin session and gets the hostname, logging how
// long it took; it fails the test if the admin is not served.
func adminServed(t *testing.T, e *element) {
	t.Helper()
	t0 := time.Now()
	c := dial(t, e, "admin", adminPW, true)
	reply := c.rpc(`<get-config><source><running/></source><filter><system xmlns="urn:wirebeat:system"><hostname/></system></filter></get-config>`)
	t.Logf("admin session and get-config during the attack: %v", time.Since(t0))
	if !strings.Contains(reply, "wb-test") {
		t.Errorf("admin get-config: %s", reply)
	}
	c.conn.Close()
}

func hostnameUnchangedNC(t *testing.T, e *element) {
	t.Helper()
	if h := e.core.Running().GetSystem().GetHostname(); h != "wb-test" {
		t.Errorf("hostname is now %q", h)
	}
}

// TestChunkHeaderDoesNotAllocate: fifty sessions announce a 67 MB chunk
// and send a few bytes of it: the element holds what arrived, not what
// was announced.
func TestChunkHeaderDoesNotAllocate(t *testing.T) {
	e := startLimitedNC(t, server.Limits{})
	const sessions = 50
	for i := 0; i < sessions; i++ {
		c := dial(t, e, "admin", adminPW, true)
		c.in.Write([]byte("\n#67000000\n<rpc message-id=\"1\""))
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.core.ParseBudget().Used() < sessions*4096 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	used := e.core.ParseBudget().Used()
	t.Logf("%d sessions announcing 67 MB chunks hold %d bytes", sessions, used)
	if used > sessions*(readStep+8192) {
		t.Errorf("%d sessions announcing 67 MB hold %d bytes", sessions, used)
	}
	adminServed(t, e)
	hostnameUnchangedNC(t, e)
}

// TestParseBudgetShared: messages being read by all sessions together
// stay within ParseMemory; a non-admin past it gets resource-denied,
// and an admin still has the reserve.
func TestParseBudgetShared(t *testing.T) {
	e := startLimitedNC(t, server.Limits{ParseMemory: 4 << 20})
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 8; i++ {
		c := dial(t, e, "view", viewerPW, true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 1 MiB of a chunk, then nothing: the budget stays held.
			c.in.Write([]byte("\n#2000000\n<rpc message-id=\"1\" xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><get/>" + strings.Repeat(" ", 1<<20)))
			if msg, err := c.fr.readMessage(); err == nil {
				errs <- string(msg)
			}
		}()
	}
	got := <-errs
	t.Logf("over budget: %s", got)
	if !strings.Contains(got, "resource-denied") || !strings.Contains(got, "budget") {
		t.Errorf("over budget, got %s", got)
	}
	if used := e.core.ParseBudget().Used(); used > 4<<20 {
		t.Errorf("budget of 4 MiB holds %d bytes", used)
	}
	adminServed(t, e)
	hostnameUnchangedNC(t, e)
	e.nc.Close()
	wg.Wait()
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestParseMemoryBounded: namespace declarations, attributes and tiny
// elements cost memory within ParseFactor times the message's size, or
// are refused with a precise error once they would cost more (10,000
// nested namespace declarations make each element copy a large scope:
// refused, where they took 5.3 GiB).
func TestParseMemoryBounded(t *testing.T) {
	wrap := func(body string) []byte {
		return []byte(`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">` + body + `</rpc>`)
	}
	var ns strings.Builder // 10,000 declarations, each in scope of the next
	ns.WriteString(`<get><filter>`)
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&ns, `<a xmlns:p%d="urn:x:%d">`, i, i)
		if i%100 == 99 {
			ns.WriteString(strings.Repeat("</a>", 100))
		}
	}
	ns.WriteString(`</filter></get>`)
	var attrs strings.Builder // 965 KiB of attributes
	attrs.WriteString(`<get><filter>`)
	for attrs.Len() < 965<<10 {
		attrs.WriteString(`<a`)
		for j := 0; j < 250; j++ {
			fmt.Fprintf(&attrs, ` a%d="v"`, j)
		}
		attrs.WriteString(`/>`)
	}
	attrs.WriteString(`</filter></get>`)
	var oneElem strings.Builder
	oneElem.WriteString(`<get><filter><a`)
	for j := 0; j < 20000; j++ {
		fmt.Fprintf(&oneElem, ` a%d="v"`, j)
	}
	oneElem.WriteString(`/></filter></get>`)
	tiny := `<get><filter>` + strings.Repeat(`<a/>`, 200000) + `</filter></get>`
	bindings := bindingsXML(20000)
	for _, c := range []struct {
		name, body string
		wantErr    string
	}{
		{"10000 namespace declarations", ns.String(), "needs more memory"},
		{"965 KiB of attributes", attrs.String(), ""},
		{"20000 attributes on one element", oneElem.String(), "more than 256 attributes"},
		{"200000 empty elements", tiny, "needs more memory"},
		{"20000 bindings", bindings, ""},
	} {
		msg := wrap(c.body)
		var err error
		t0 := time.Now()
		n := allocated(func() { _, err = parseXMLLimited(msg, parseLimits{factor: defaultParseFactor}) })
		t.Logf("%s: %d bytes, parse allocated %d (%.1fx) in %v, err %v", c.name, len(msg), n, float64(n)/float64(len(msg)), time.Since(t0), err)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.wantErr)
		}
		if n > uint64(2*defaultParseFactor*len(msg)+1<<20) {
			t.Errorf("%s: parse allocated %d bytes for %d", c.name, n, len(msg))
		}
	}
}

// TestNamespaceScopes: a prefix declared on an element is in scope in its
// descendants only, and the filter's namespaces are what is in scope.
func TestNamespaceScopes(t *testing.T) {
	x, err := parseXML([]byte(`<a xmlns="u0" xmlns:p="u1"><b xmlns:p="u2"><p:c/></b><p:d xmlns="u0"/></a>`))
	if err != nil {
		t.Fatal(err)
	}
	if got := x.Children[0].Children[0].Name.Space; got != "u2" {
		t.Errorf("c in %q", got)
	}
	if got := x.Children[1].Name.Space; got != "u1" {
		t.Errorf("d in %q", got)
	}
	if ns := x.Children[0].namespaces(); ns["p"] != "u2" || ns[""] != "u0" {
		t.Errorf("scope of b: %v", ns)
	}
	if _, err := parseXML([]byte(`<a><b xmlns:p="u"/><p:c/></a>`)); err == nil {
		t.Error("a prefix declared on a sibling is in scope")
	}
}

// TestSessionLimitsAndHelloTimeout: a viewer holding sessions that never
// send a hello is bounded per user and timed out; the admin gets in.
//
// The two bounds are shown on two elements so that neither depends on
// how fast the machine is: the per-user bound with a hello timeout far
// longer than the test (no session can time out and free its slot before
// the fifth login), the timeout with one long enough for the SSH
// handshake of a loaded machine (it also bounds the handshake).
func TestSessionLimitsAndHelloTimeout(t *testing.T) {
	lim := server.Limits{SessionsPerUser: 4, MaxSessions: 8, AdminSessions: 2}

	lim.HelloTimeout = 10 * time.Minute
	e := startLimitedNC(t, lim)
	for i := 0; i < 4; i++ {
		_, out, _ := rawSession(t, e, "view", viewerPW)
		serverHello(t, out, fmt.Sprintf("viewer session %d", i))
	}
	// The fifth is refused.
	_, out, _ := rawSession(t, e, "view", viewerPW)
	if b, _ := io.ReadAll(out); strings.Contains(string(b), "<hello") {
		t.Errorf("fifth viewer session got a hello")
	}
	adminServed(t, e)
	hostnameUnchangedNC(t, e)

	// The sessions without hello are closed after the hello timeout,
	// and their slots are free again.
	lim.HelloTimeout = 10 * time.Second
	e = startLimitedNC(t, lim)
	var outs []io.Reader
	for i := 0; i < 4; i++ {
		_, out, _ := rawSession(t, e, "view", viewerPW)
		serverHello(t, out, fmt.Sprintf("viewer session %d", i))
		outs = append(outs, out)
	}
	for i, out := range outs {
		done := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, out); done <- err }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("session %d without hello still open", i)
		}
	}
	_, out, _ = rawSession(t, e, "view", viewerPW)
	serverHello(t, out, "viewer session after the four timed out")
	hostnameUnchangedNC(t, e)
}

// serverHello reads the element's hello from a new session's output, or
// fails the test (bounded).
func serverHello(t *testing.T, out io.Reader, what string) {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		var b []byte
		buf := make([]byte, 4096)
		for !strings.Contains(string(b), "]]>]]>") {
			n, err := out.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				break
			}
		}
		got <- string(b)
	}()
	select {
	case b := <-got:
		if !strings.Contains(b, "<hello") || !strings.Contains(b, "]]>]]>") {
			t.Fatalf("%s: no hello from the element: %q", what, b)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: no hello from the element", what)
	}
}

// TestIdleTimeout: a session that sends nothing after its hello is ended.
func TestIdleTimeout(t *testing.T) {
	e := startLimitedNC(t, server.Limits{IdleTimeout: 2 * time.Second})
	c := dial(t, e, "view", viewerPW, true)
	c.rpc(`<get-config><source><running/></source></get-config>`)
	done := make(chan error, 1)
	go func() { _, err := c.fr.readMessage(); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a message instead of the end of the session")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("idle session still open")
	}
}

// TestSessionRevoked: deleting a user or changing its role ends its open
// NETCONF sessions.
func TestSessionRevoked(t *testing.T) {
	e := startLimitedNC(t, server.Limits{})
	sys := &server.Session{User: "system", Role: server.RoleAdmin, Transport: "system"}
	for _, c := range []struct {
		user, pw string
		change   func(*gen.Device)
	}{
		{"view", viewerPW, func(root *gen.Device) { root.GetSystem().GetAaa().GetUsers().DeleteUser("view") }},
		{"oper", operatorPW, func(root *gen.Device) {
			root.GetSystem().GetAaa().GetUsers().GetUser("oper").Role = gen.WirebeatSystem_UserRole_viewer
		}},
	} {
		cl := dial(t, e, c.user, c.pw, true)
		cl.rpc(`<get-config><source><running/></source></get-config>`)
		if err := e.core.Edit(sys, server.Running, func(root *gen.Device) error { c.change(root); return nil }); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := cl.fr.readMessage(); done <- err }()
		select {
		case err := <-done:
			if err == nil || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				t.Errorf("%s: %v", c.user, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: session still open", c.user)
		}
	}
}

// TestLoginFloodNETCONF: concurrent wrong-password logins are bounded by
// the shared gate and lock their source out; an admin from another
// source logs in meanwhile.
func TestLoginFloodNETCONF(t *testing.T) {
	e := startLimitedNC(t, server.Limits{ConcurrentAuth: 2})
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := ssh.Dial("tcp", e.addr, &ssh.ClientConfig{
				User: fmt.Sprintf("nobody%d", i), Auth: []ssh.AuthMethod{ssh.Password("wrong")},
				HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second,
			})
			if err == nil {
				conn.Close()
				t.Error("wrong password accepted")
			}
		}()
	}
	// The admin, from 127.0.0.2.
	t0 := time.Now()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 30 * time.Second}
	nc, err := d.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, e.addr, &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password(adminPW)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatalf("admin login during the flood: %v", err)
	}
	ssh.NewClient(sc, chans, reqs).Close()
	t.Logf("admin SSH login during the flood: %v", time.Since(t0))
	wg.Wait()
	st := e.core.AuthStats()
	t.Logf("gate after the flood: %+v", st)
	if st.PeakChecks > 2 {
		t.Errorf("%d hash checks at once; the bound is 2", st.PeakChecks)
	}
	// 127.0.0.1 is locked out now, even with the right password.
	if conn, err := ssh.Dial("tcp", e.addr, &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password(adminPW)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second}); err == nil {
		conn.Close()
		t.Error("a locked-out source logged in")
	}
	if e.core.AuthStats().LockedOut == 0 {
		t.Error("no login refused by the lockout")
	}
	hostnameUnchangedNC(t, e)
}

// TestSSHWeakAlgorithmsRefused: diffie-hellman-group14-sha1 and
// hmac-sha1-96 are not offered; the default algorithms work.
func TestSSHWeakAlgorithmsRefused(t *testing.T) {
	e := startLimitedNC(t, server.Limits{})
	try := func(cfg ssh.Config) error {
		conn, err := ssh.Dial("tcp", e.addr, &ssh.ClientConfig{Config: cfg, User: "admin", Auth: []ssh.AuthMethod{ssh.Password(adminPW)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second})
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := try(ssh.Config{KeyExchanges: []string{ssh.InsecureKeyExchangeDH14SHA1}}); err == nil {
		t.Error("diffie-hellman-group14-sha1 accepted")
	} else {
		t.Logf("diffie-hellman-group14-sha1: %v", err)
	}
	if err := try(ssh.Config{MACs: []string{ssh.InsecureHMACSHA196}, Ciphers: []string{ssh.CipherAES128CTR}}); err == nil {
		t.Error("hmac-sha1-96 accepted")
	} else {
		t.Logf("hmac-sha1-96: %v", err)
	}
	if err := try(ssh.Config{}); err != nil {
		t.Errorf("default algorithms: %v", err)
	}
}

// TestOperatorConfirmTimeoutKeepsAdminsSystemChange: an operator's
// confirmed commit that times out is rolled back, but an admin's /system
// change made meanwhile stays (issue 16).
func TestOperatorConfirmTimeoutKeepsAdminsSystemChange(t *testing.T) {
	e := startLimitedNC(t, server.Limits{})
	op := dial(t, e, "oper", operatorPW, true)
	admin := dial(t, e, "admin", adminPW, true)
	wantOK(t, op.rpc(strings.Replace(profileEdit("op-profile", 3, ""), "<running/>", "<candidate/>", 1)))
	wantOK(t, op.rpc(`<commit><confirmed/><confirm-timeout>2</confirm-timeout></commit>`))
	if e.core.Running().GetBfd().GetProfiles().GetProfile("op-profile") == nil {
		t.Fatal("confirmed commit not applied")
	}
	wantOK(t, admin.rpc(`<edit-config><target><running/></target><config><system xmlns="urn:wirebeat:system"><hostname>set-by-admin</hostname></system></config></edit-config>`))
	deadline := time.Now().Add(30 * time.Second)
	for e.core.Running().GetBfd().GetProfiles().GetProfile("op-profile") != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if e.core.Running().GetBfd().GetProfiles().GetProfile("op-profile") != nil {
		t.Fatal("the operator's unconfirmed commit was not rolled back")
	}
	if h := e.core.Running().GetSystem().GetHostname(); h != "set-by-admin" {
		t.Errorf("the rollback of the operator's commit undid the admin's hostname: %q", h)
	}
}

// TestPasswordHashesOnlyForAdminsNETCONF: get and get-config show the
// hashes to admins only.
func TestPasswordHashesOnlyForAdminsNETCONF(t *testing.T) {
	e := startLimitedNC(t, server.Limits{})
	for _, c := range []struct {
		user, pw string
		sees     bool
	}{{"admin", adminPW, true}, {"oper", operatorPW, false}, {"view", viewerPW, false}} {
		cl := dial(t, e, c.user, c.pw, true)
		for _, op := range []string{`<get-config><source><running/></source></get-config>`, `<get/>`,
			`<get-data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda" xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores"><datastore>ds:running</datastore></get-data>`,
			`<get-data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda" xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores"><datastore>ds:operational</datastore></get-data>`} {
			if got := cl.rpc(op); strings.Contains(got, "$2a$") != c.sees || !strings.Contains(got, "<name>view</name>") {
				t.Errorf("%s %s: hashes seen %v, want %v", c.user, op, !c.sees, c.sees)
			}
		}
	}
}

// TestLoggedInConnectionWithoutSessionClosed: an SSH connection that logs
// in and opens no NETCONF session is closed after the hello timeout.
func TestLoggedInConnectionWithoutSessionClosed(t *testing.T) {
	// The hello timeout also bounds the SSH handshake: long enough for
	// one on a loaded machine.
	e := startLimitedNC(t, server.Limits{HelloTimeout: 10 * time.Second})
	conn, err := ssh.Dial("tcp", e.addr, &ssh.ClientConfig{User: "view", Auth: []ssh.AuthMethod{ssh.Password(viewerPW)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan error, 1)
	go func() { done <- conn.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("a connection without a session is still open")
	}
}
