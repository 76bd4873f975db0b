package netconf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/server/internal/testelem"
)

// element is a wirebeat core with its NETCONF server on a loopback port.
type element struct {
	core *server.Server
	nc   *Server
	addr string
	dir  string
}

const (
	adminPW    = "admin-secret"
	operatorPW = "operator-secret"
	viewerPW   = "viewer-secret"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startElement starts an element whose NETCONF server takes messages up to
// maxMessage bytes (1 MiB when not given, so limits are cheap to test).
func startElement(t testing.TB, maxMessage ...int) *element {
	t.Helper()
	limit := 1 << 20
	if len(maxMessage) > 0 {
		limit = maxMessage[0]
	}
	dir := t.TempDir()
	core, err := server.New(server.Options{DataDir: dir, Logger: quiet, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	testelem.Edit(t, core, func(root *gen.Device) { testelem.AddUsers(root, adminPW, operatorPW, viewerPW) })
	signer := testelem.HostKey(t)
	nc, err := New(core, Options{HostKey: signer, Logger: quiet, LoginDelay: 10 * time.Millisecond, MaxMessage: limit, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go nc.Serve(context.Background(), ln)
	t.Cleanup(func() {
		nc.Close()
		if err := core.Close(); err != nil {
			t.Error(err)
		}
	})
	return &element{core: core, nc: nc, addr: ln.Addr().String(), dir: dir}
}

// client is a raw NETCONF client over x/crypto/ssh, for tests that need
// to control every byte.
type client struct {
	t       testing.TB
	conn    *ssh.Client
	sess    *ssh.Session
	in      io.WriteCloser
	fr      *framer
	id      int
	hello   string
	session string
}

func dial(t testing.TB, e *element, user, pw string, base11 bool) *client {
	t.Helper()
	conn, err := ssh.Dial("tcp", e.addr, &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	s, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.RequestSubsystem("netconf"); err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn, sess: s, in: in, fr: newFramer(out, in, 64<<20)}
	t.Cleanup(func() { conn.Close() })
	msg, err := c.fr.readMessage()
	if err != nil {
		t.Fatalf("read hello: %v", err)
	}
	c.hello = string(msg)
	c.session = regexp.MustCompile(`<session-id>(\d+)</session-id>`).FindStringSubmatch(c.hello)[1]
	caps := `<capability>urn:ietf:params:netconf:base:1.0</capability>`
	if base11 {
		caps += `<capability>urn:ietf:params:netconf:base:1.1</capability>`
	}
	c.fr.writeMessage([]byte(`<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>` + caps + `</capabilities></hello>`))
	c.fr.chunked = base11
	return c
}

// rpc sends an operation and returns the reply.
func (c *client) rpc(op string) string {
	c.t.Helper()
	c.id++
	msg := fmt.Sprintf(`<rpc message-id="%d" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">%s</rpc>`, c.id, op)
	if err := c.fr.writeMessage([]byte(msg)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return c.read()
}

func (c *client) read() string {
	c.t.Helper()
	reply, err := c.fr.readMessage()
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return string(reply)
}

// readWithin reads a message or fails the test after d.
func (c *client) readWithin(d time.Duration) string {
	c.t.Helper()
	got := make(chan string, 1)
	go func() {
		msg, err := c.fr.readMessage()
		if err != nil {
			got <- "read error: " + err.Error()
			return
		}
		got <- string(msg)
	}()
	select {
	case m := <-got:
		return m
	case <-time.After(d):
		c.t.Fatalf("no message within %v", d)
		return ""
	}
}

func wantOK(t testing.TB, reply string) {
	t.Helper()
	if !strings.Contains(reply, "<ok/>") {
		t.Fatalf("want <ok/>, got %s", reply)
	}
}

func wantError(t testing.TB, reply, tag string) {
	t.Helper()
	if !strings.Contains(reply, "<error-tag>"+tag+"</error-tag>") {
		t.Fatalf("want error-tag %s, got %s", tag, reply)
	}
}

const bfdNS = `xmlns="urn:wirebeat:bfd"`

func profileEdit(name string, mult int, op string) string {
	attr := ""
	if op != "" {
		attr = ` xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="` + op + `"`
	}
	return `<edit-config><target><running/></target><config><bfd ` + bfdNS + `><profiles><profile` + attr + `><name>` + name +
		`</name><detection-multiplier>` + fmt.Sprint(mult) + `</detection-multiplier></profile></profiles></bfd></config></edit-config>`
}

func TestHelloAndBasicOperations(t *testing.T) {
	e := startElement(t)
	for _, chunked := range []bool{false, true} {
		c := dial(t, e, "admin", adminPW, chunked)
		for _, cap := range []string{"base:1.1", "candidate:1.0", "confirmed-commit:1.1", "with-defaults:1.0?basic-mode=explicit",
			"yang-library:1.1", "urn:wirebeat:bfd?module=wirebeat-bfd&amp;revision="} {
			if !strings.Contains(c.hello, cap) {
				t.Errorf("hello lacks %s", cap)
			}
		}
		wantOK(t, c.rpc(profileEdit(fmt.Sprintf("p%v", chunked), 4, "")))
		reply := c.rpc(`<get-config><source><running/></source><filter type="subtree"><bfd ` + bfdNS + `><profiles/></bfd></filter></get-config>`)
		if !strings.Contains(reply, "<name>p"+fmt.Sprint(chunked)+"</name><detection-multiplier>4</detection-multiplier>") {
			t.Errorf("get-config: %s", reply)
		}
		if strings.Contains(reply, "<system") {
			t.Error("subtree filter did not filter")
		}
		wantOK(t, c.rpc(`<close-session/>`))
	}
}

func TestEditErrors(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	wantOK(t, c.rpc(profileEdit("p", 3, "")))
	before, _ := schema.EncodeJSON(e.core.Running())
	cases := []struct {
		name, op, tag string
		want          []string
	}{
		{"malformed value", profileEdit("p", 0, ""), "invalid-value",
			[]string{"<error-path xmlns:wbbfd=\"urn:wirebeat:bfd\">/wbbfd:bfd/wbbfd:profiles/wbbfd:profile[wbbfd:name=&#39;p&#39;]/wbbfd:detection-multiplier</error-path>"}},
		{"not a number", strings.Replace(profileEdit("p", 3, ""), ">3<", ">three<", 1), "invalid-value", []string{"<bad-element>detection-multiplier</bad-element>"}},
		{"unknown element", `<edit-config><target><running/></target><config><bfd ` + bfdNS + `><nonsense/></bfd></config></edit-config>`,
			"unknown-element", []string{"<bad-element>nonsense</bad-element>"}},
		{"unknown namespace", `<edit-config><target><running/></target><config><bfd xmlns="urn:example:nope"/></config></edit-config>`,
			"unknown-namespace", []string{"<bad-namespace>urn:example:nope</bad-namespace>"}},
		{"bad operation", profileEdit("p", 3, "frobnicate"), "bad-attribute", []string{"<bad-attribute>operation</bad-attribute>"}},
		{"create existing", profileEdit("p", 3, "create"), "data-exists", []string{"profile[wbbfd:name=&#39;p&#39;]"}},
		{"delete missing", profileEdit("q", 3, "delete"), "data-missing", nil},
		{"missing key", `<edit-config><target><running/></target><config><bfd ` + bfdNS + `><profiles><profile><passive>true</passive></profile></profiles></bfd></config></edit-config>`,
			"missing-element", []string{"<bad-element>name</bad-element>"}},
		{"state node", `<edit-config><target><running/></target><config><bfd ` + bfdNS + `><summary><number-of-sessions>3</number-of-sessions></summary></bfd></config></edit-config>`,
			"invalid-value", nil},
		{"dangling leafref", `<edit-config><target><running/></target><config><bfd ` + bfdNS + `><single-hop><session><interface>eth0</interface><dest-addr>192.0.2.1</dest-addr><profile>none</profile></session></single-hop></bfd></config></edit-config>`,
			"data-missing", []string{"<error-app-tag>instance-required</error-app-tag>"}},
		{"unknown operation", `<frobnicate/>`, "operation-not-supported", nil},
		{"url", `<copy-config><target><running/></target><source><url>file:///etc/passwd</url></source></copy-config>`, "invalid-value", nil}, // outside DATADIR/files
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reply := c.rpc(tc.op)
			wantError(t, reply, tc.tag)
			for _, w := range tc.want {
				if !strings.Contains(reply, w) {
					t.Errorf("reply lacks %s:\n%s", w, reply)
				}
			}
			after, _ := schema.EncodeJSON(e.core.Running())
			if !bytes.Equal(before, after) {
				t.Error("running changed")
			}
		})
	}
	// Malformed XML: an error, and the session goes on.
	c.id++
	c.fr.writeMessage([]byte(`<rpc message-id="x" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get>`))
	wantError(t, c.read(), "malformed-message")
	if reply := c.rpc(`<get-config><source><running/></source></get-config>`); !strings.Contains(reply, "<data>") {
		t.Errorf("session unusable after malformed XML: %s", reply)
	}
	// No message-id.
	c.fr.writeMessage([]byte(`<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>`))
	r := c.read()
	wantError(t, r, "missing-attribute")
	if !strings.Contains(r, "<bad-attribute>message-id</bad-attribute>") {
		t.Errorf("missing message-id: %s", r)
	}
}

func TestCandidateLocksAndRoles(t *testing.T) {
	e := startElement(t)
	a := dial(t, e, "admin", adminPW, true)
	b := dial(t, e, "oper", operatorPW, false)
	v := dial(t, e, "view", viewerPW, true)

	wantOK(t, a.rpc(`<lock><target><candidate/></target></lock>`))
	r := b.rpc(`<lock><target><candidate/></target></lock>`)
	wantError(t, r, "lock-denied")
	if !strings.Contains(r, "<session-id>"+a.session+"</session-id>") {
		t.Errorf("lock-denied does not name the holder %s: %s", a.session, r)
	}
	edit := strings.Replace(profileEdit("c", 5, ""), "<running/>", "<candidate/>", 1)
	wantError(t, b.rpc(edit), "in-use")
	wantOK(t, a.rpc(edit))
	if e.core.Running().GetBfd().GetProfiles().GetProfile("c") != nil {
		t.Fatal("candidate edit reached running")
	}
	wantOK(t, a.rpc(`<commit/>`))
	if e.core.Running().GetBfd().GetProfiles().GetProfile("c").GetDetectionMultiplier() != 5 {
		t.Fatal("commit did not reach running")
	}
	// Closing the holder's session releases the lock.
	wantOK(t, a.rpc(`<close-session/>`))
	deadline := time.Now().Add(5 * time.Second)
	for e.core.LockHolder(server.Candidate) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	wantOK(t, b.rpc(`<lock><target><candidate/></target></lock>`))
	wantOK(t, b.rpc(`<unlock><target><candidate/></target></lock>`[:len(`<unlock><target><candidate/></target>`)]+`</unlock>`))

	// Roles: a viewer reads only, an operator may not touch users.
	wantError(t, v.rpc(profileEdit("v", 3, "")), "access-denied")
	wantError(t, b.rpc(`<edit-config><target><running/></target><config><system xmlns="urn:wirebeat:system"><hostname>mine</hostname></system></config></edit-config>`), "access-denied")
	// Nor does a viewer read the hashes (issue 16: admins only).
	if r := v.rpc(`<get-config><source><running/></source></get-config>`); strings.Contains(r, adminPW) || strings.Contains(r, "$2a$") {
		t.Errorf("a viewer reads passwords or their hashes in get-config: %s", r)
	}
}

func TestConfirmedCommitRollsBack(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	wantOK(t, c.rpc(strings.Replace(profileEdit("cc", 3, ""), "<running/>", "<candidate/>", 1)))
	wantOK(t, c.rpc(`<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>`))
	if e.core.Running().GetBfd().GetProfiles().GetProfile("cc") == nil {
		t.Fatal("confirmed commit not applied")
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.core.Running().GetBfd().GetProfiles().GetProfile("cc") != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if e.core.Running().GetBfd().GetProfiles().GetProfile("cc") != nil {
		t.Fatal("unconfirmed commit not rolled back after its timeout")
	}
	// Confirmed in time, it stays.
	wantOK(t, c.rpc(strings.Replace(profileEdit("cc", 3, ""), "<running/>", "<candidate/>", 1)))
	wantOK(t, c.rpc(`<commit><confirmed/><confirm-timeout>60</confirm-timeout><persist>tok</persist></commit>`))
	wantError(t, c.rpc(`<commit><persist-id>wrong</persist-id></commit>`), "invalid-value")
	wantOK(t, c.rpc(`<commit><persist-id>tok</persist-id></commit>`))
	if e.core.Running().GetBfd().GetProfiles().GetProfile("cc") == nil {
		t.Fatal("confirmed commit lost")
	}
	// A session that ends with an unconfirmed (non-persist) commit loses it.
	d := dial(t, e, "admin", adminPW, false)
	wantOK(t, d.rpc(strings.Replace(profileEdit("gone", 3, ""), "<running/>", "<candidate/>", 1)))
	wantOK(t, d.rpc(`<commit><confirmed/></commit>`))
	d.conn.Close()
	deadline = time.Now().Add(10 * time.Second)
	for e.core.Running().GetBfd().GetProfiles().GetProfile("gone") != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if e.core.Running().GetBfd().GetProfiles().GetProfile("gone") != nil {
		t.Fatal("commit of an ended session not rolled back")
	}
}

func TestOversizedMessageClosesSession(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, false)
	big := `<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get>` + strings.Repeat(" ", 2<<20) + `</get></rpc>`
	go c.fr.writeMessage([]byte(big))
	wantError(t, c.read(), "too-big")
	if _, err := c.fr.readMessage(); err == nil {
		t.Error("session still open after an oversized message")
	}
	// A new session works.
	wantOK(t, dial(t, e, "admin", adminPW, true).rpc(profileEdit("after", 3, "")))
}

func TestClientStopsMidChunk(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	c.in.Write([]byte("\n#500\n<rpc message-id=\"1\""))
	c.sess.Close()
	c.conn.Close()
	wantOK(t, dial(t, e, "admin", adminPW, true).rpc(profileEdit("after", 3, "")))
}

func TestLoginFailure(t *testing.T) {
	e := startElement(t)
	_, err := ssh.Dial("tcp", e.addr, &ssh.ClientConfig{
		User: "admin", Auth: []ssh.AuthMethod{ssh.Password("wrong")},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err == nil {
		t.Fatal("wrong password accepted")
	}
}
