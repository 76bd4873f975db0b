package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// An engine's refusal of a commit reaches the NETCONF client with the path
// of the offending node (error-path), for each engine of the build.
func TestEngineErrorsCarryErrorPath(t *testing.T) {
	dir := t.TempDir()
	e := start(t, []string{"WIREBEAT_ADMIN_PASSWORD=engine-path-secret"}, "--datadir", dir, "--gnmi", "", "--cli", "")
	defer e.stop(t)
	rpc := netconfSession(t, e, dir, "engine-path-secret")
	for _, c := range []struct {
		name, config string
		wantPath     []string
	}{
		{"lwaftr binding", `<softwire xmlns="urn:wirebeat:softwire"><lwaftr><binding-table><softwire>` +
			`<ipv4>192.0.2.1</ipv4><psid>100</psid><b4-ipv6>2001:db8::1</b4-ipv6><br-address>2001:db8::2</br-address>` +
			`<port-set><psid-length>6</psid-length></port-set></softwire></binding-table></lwaftr></softwire>`,
			[]string{"wbsw:binding-table/wbsw:softwire[", "wbsw:psid=&#39;100&#39;"}},
		{"bfd session", `<bfd xmlns="urn:wirebeat:bfd"><multi-hop><session>` +
			`<source-addr>192.0.2.1</source-addr><dest-addr>2001:db8::9</dest-addr></session></multi-hop></bfd>`,
			[]string{"wbbfd:multi-hop/wbbfd:session["}},
	} {
		reply := rpc(`<edit-config><target><running/></target><config>` + c.config + `</config></edit-config>`)
		m := regexp.MustCompile(`<error-path[^>]*>([^<]*)</error-path>`).FindStringSubmatch(reply)
		if !strings.Contains(reply, "<rpc-error>") || m == nil {
			t.Errorf("%s: no rpc-error with an error-path:\n%s", c.name, reply)
			continue
		}
		for _, w := range c.wantPath {
			if !strings.Contains(m[1], w) {
				t.Errorf("%s: error-path %s lacks %s", c.name, m[1], w)
			}
		}
	}
}

// netconfSession logs in to the element's NETCONF server as admin and
// returns a function that sends one RPC and returns its reply.
func netconfSession(t *testing.T, e *element, dir, password string) func(op string) string {
	t.Helper()
	m := regexp.MustCompile(`NETCONF: listening on (\S+)`).FindStringSubmatch(e.output())
	if m == nil {
		t.Fatalf("no NETCONF address in:\n%s", e.output())
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", m[1], &ssh.ClientConfig{
		User: "admin", Auth: []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey()), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("ssh to the element: %v", err)
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
	r := bufio.NewReader(out)
	read := func() string {
		var got strings.Builder
		for !strings.HasSuffix(got.String(), "]]>]]>") {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatalf("reading: %v; so far: %s", err, got.String())
			}
			got.WriteByte(b)
		}
		return got.String()
	}
	io.WriteString(in, `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>`)
	read()
	id := 0
	return func(op string) string {
		id++
		io.WriteString(in, `<rpc message-id="`+strings.Repeat("1", id)+`" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">`+op+`</rpc>]]>]]>`)
		return read()
	}
}
