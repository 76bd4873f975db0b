package netconf

import (
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/server"
)

func TestNotifications(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	wantError(t, c.rpc(`<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"><stream>OTHER</stream></create-subscription>`), "invalid-value")
	wantOK(t, c.rpc(`<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/>`))
	wantError(t, c.rpc(`<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/>`), "operation-failed")

	other := dial(t, e, "oper", operatorPW, false)
	wantOK(t, other.rpc(profileEdit("n1", 3, "")))
	// An engine event, as the BFD engine will publish it.
	e.core.Hub().Publish(events.Event{Time: time.Now(), Kind: events.Notification, Module: "wirebeat-bfd", Name: "session-state-change",
		Leaves: []events.Leaf{{Name: "session-type", Value: "single-hop"}, {Name: "new-state", Value: "up"}, {Name: "old-state", Value: "init"}}})

	want := []string{
		`<netconf-session-start xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"><username>oper</username>`,
		`<netconf-config-change xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"><changed-by><username>oper</username>`,
		`<operation>create</operation>`,
		`<session-state-change xmlns="urn:wirebeat:bfd"><session-type>single-hop</session-type><new-state>up</new-state>`,
	}
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for len(want) > 0 && time.Now().Before(deadline) {
		msg := c.readWithin(10 * time.Second)
		if !strings.HasPrefix(msg, "<notification") || !strings.Contains(msg, "<eventTime>") {
			t.Fatalf("not a notification: %s", msg)
		}
		got = append(got, msg)
		var left []string
		for _, w := range want {
			if !strings.Contains(msg, w) {
				left = append(left, w)
			}
		}
		want = left
	}
	if len(want) > 0 {
		t.Fatalf("missing notifications %q; got:\n%s", want, strings.Join(got, "\n"))
	}
	// Interleave: rpcs still work on a subscribed session.
	if r := c.rpc(`<get-config><source><running/></source></get-config>`); !strings.Contains(r, "<data>") {
		t.Fatalf("rpc on a subscribed session: %s", r)
	}
}

func TestKillSessionReleasesLock(t *testing.T) {
	e := startElement(t)
	a := dial(t, e, "oper", operatorPW, true)
	b := dial(t, e, "admin", adminPW, true)
	wantOK(t, a.rpc(`<lock><target><running/></target></lock>`))
	wantError(t, a.rpc(`<kill-session><session-id>`+b.session+`</session-id></kill-session>`), "access-denied")
	wantOK(t, b.rpc(`<kill-session><session-id>`+a.session+`</session-id></kill-session>`))
	if _, err := a.fr.readMessage(); err == nil {
		t.Error("killed session still answers")
	}
	wantOK(t, b.rpc(`<lock><target><running/></target></lock>`))
}

func TestCopyAndDeleteConfig(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	wantOK(t, c.rpc(profileEdit("cp", 6, "")))
	// Inline config replaces the candidate whole; it must keep an admin.
	wantError(t, c.rpc(`<copy-config><target><running/></target><source><config><bfd xmlns="urn:wirebeat:bfd"/></config></source></copy-config>`), "invalid-value")
	wantOK(t, c.rpc(`<copy-config><target><candidate/></target><source><running/></source></copy-config>`))
	wantOK(t, c.rpc(`<copy-config><target><startup/></target><source><running/></source></copy-config>`))
	if r := c.rpc(`<get-config><source><startup/></source><filter><bfd xmlns="urn:wirebeat:bfd"/></filter></get-config>`); !strings.Contains(r, "<name>cp</name>") {
		t.Errorf("startup after copy-config: %s", r)
	}
	wantError(t, c.rpc(`<delete-config><target><running/></target></delete-config>`), "operation-not-supported")
	wantOK(t, c.rpc(`<delete-config><target><startup/></target></delete-config>`))
	if r := c.rpc(`<get-config><source><startup/></source></get-config>`); strings.Contains(r, "<name>cp</name>") {
		t.Errorf("startup after delete-config: %s", r)
	}
}

func TestErrorOptionsAndTestOnly(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	two := `<config><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>ok</name><detection-multiplier>4</detection-multiplier></profile></profiles></bfd>` +
		`<system xmlns="urn:wirebeat:system"><hostname>bad host!</hostname></system></config>`
	// stop-on-error (and rollback-on-error): nothing of the edit lands.
	for _, opt := range []string{"stop-on-error", "rollback-on-error"} {
		wantError(t, c.rpc(`<edit-config><target><running/></target><error-option>`+opt+`</error-option>`+two+`</edit-config>`), "invalid-value")
		if e.core.Running().GetBfd().GetProfiles().GetProfile("ok") != nil {
			t.Fatalf("%s applied part of a failed edit", opt)
		}
	}
	// test-only validates and changes nothing.
	wantOK(t, c.rpc(`<edit-config><target><running/></target><test-option>test-only</test-option>`+profileEdit("t", 3, "")[len(`<edit-config><target><running/></target>`):]))
	if e.core.Running().GetBfd().GetProfiles().GetProfile("t") != nil {
		t.Fatal("test-only changed running")
	}
	// continue-on-error applies what it can and reports the rest.
	r := c.rpc(`<edit-config><target><running/></target><error-option>continue-on-error</error-option>` + two + `</edit-config>`)
	wantError(t, r, "invalid-value")
	if e.core.Running().GetBfd().GetProfiles().GetProfile("ok") == nil {
		t.Fatal("continue-on-error dropped the valid part")
	}
}

func TestWithDefaultsModes(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	wantOK(t, c.rpc(profileEdit("wd", 3, "")))
	get := func(mode string) string {
		return c.rpc(`<get-config><source><running/></source><filter><bfd xmlns="urn:wirebeat:bfd"><profiles/></bfd></filter>` +
			`<with-defaults xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults">` + mode + `</with-defaults></get-config>`)
	}
	if r := get("explicit"); !strings.Contains(r, "<detection-multiplier>3</detection-multiplier>") || strings.Contains(r, "desired-min-tx-interval") {
		t.Errorf("explicit: %s", r)
	}
	if r := get("trim"); strings.Contains(r, "detection-multiplier") {
		t.Errorf("trim kept a value equal to its default: %s", r)
	}
	if r := get("report-all"); !strings.Contains(r, "<desired-min-tx-interval>1000000</desired-min-tx-interval>") {
		t.Errorf("report-all: %s", r)
	}
	if r := get("report-all-tagged"); !strings.Contains(r, `wd:default="true">1000000</desired-min-tx-interval>`) {
		t.Errorf("report-all-tagged: %s", r)
	}
	wantError(t, get("everything"), "invalid-value")
}

func TestGetSchemaAndMonitoring(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "view", viewerPW, true)
	r := c.rpc(`<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><identifier>wirebeat-bfd</identifier><format>yang</format></get-schema>`)
	if !strings.Contains(r, "module wirebeat-bfd") {
		t.Errorf("get-schema: %.300s", r)
	}
	wantError(t, c.rpc(`<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><identifier>nope</identifier></get-schema>`), "invalid-value")
	r = c.rpc(`<get><filter type="subtree"><netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><schemas/></netconf-state></filter></get>`)
	if !strings.Contains(r, "<identifier>wirebeat-sfc</identifier>") || strings.Contains(r, "<sessions>") {
		t.Errorf("monitoring schemas: %s", r)
	}
	r = c.rpc(`<get><filter type="xpath" xmlns:yl="urn:ietf:params:xml:ns:yang:ietf-yang-library" select="/yl:yang-library"/></get>`)
	if !strings.Contains(r, "<module><name>wirebeat-system</name>") {
		t.Errorf("yang-library: %s", r)
	}
	_ = server.Running
}

func TestCancelCommit(t *testing.T) {
	e := startElement(t)
	a := dial(t, e, "admin", adminPW, true)
	b := dial(t, e, "admin", adminPW, true)
	wantError(t, a.rpc(`<cancel-commit/>`), "operation-failed")
	wantOK(t, a.rpc(strings.Replace(profileEdit("cx", 3, ""), "<running/>", "<candidate/>", 1)))
	wantOK(t, a.rpc(`<commit><confirmed/><confirm-timeout>120</confirm-timeout></commit>`))
	wantError(t, b.rpc(`<cancel-commit/>`), "in-use") // not b's commit
	wantOK(t, a.rpc(`<cancel-commit/>`))
	if e.core.Running().GetBfd().GetProfiles().GetProfile("cx") != nil {
		t.Fatal("cancel-commit did not roll back")
	}
	// With persist, any session holding the persist-id may cancel.
	wantOK(t, a.rpc(strings.Replace(profileEdit("cy", 3, ""), "<running/>", "<candidate/>", 1)))
	wantOK(t, a.rpc(`<commit><confirmed/><persist>p1</persist></commit>`))
	wantError(t, b.rpc(`<cancel-commit><persist-id>p2</persist-id></cancel-commit>`), "invalid-value")
	wantOK(t, b.rpc(`<cancel-commit><persist-id>p1</persist-id></cancel-commit>`))
	if e.core.Running().GetBfd().GetProfiles().GetProfile("cy") != nil {
		t.Fatal("persistent confirmed commit not cancelled")
	}
}

func TestSessionLimit(t *testing.T) {
	e := startElement(t)
	e.nc.opts.MaxSessions = 2
	a := dial(t, e, "admin", adminPW, true)
	dial(t, e, "admin", adminPW, true)
	conn, err := ssh.Dial("tcp", e.addr, &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password(adminPW)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, _ := conn.NewSession()
	out, _ := s.StdoutPipe()
	s.RequestSubsystem("netconf")
	if _, err := newFramer(out, io.Discard, 1<<20).readMessage(); err == nil {
		t.Fatal("a third session got a hello beyond the limit of two")
	}
	// The sessions within the limit are unaffected.
	wantOK(t, a.rpc(profileEdit("limit", 3, "")))
}
