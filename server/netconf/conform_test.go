package netconf

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The AFTR's and the B4's BFD profile are leafrefs to /bfd/profiles: a
// misspelt profile fails the commit, an existing one commits.
func TestSoftwireBFDProfileIsLeafref(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	for _, side := range []string{"aftr", "b4"} {
		edit := func(profile string) string {
			return c.rpc(`<edit-config><target><running/></target><config><softwire xmlns="urn:wirebeat:softwire"><` + side +
				`><bfd><profile>` + profile + `</profile></bfd></` + side + `></softwire></config></edit-config>`)
		}
		r := edit("nope")
		wantError(t, r, "data-missing")
		if !strings.Contains(r, "profile") {
			t.Errorf("%s: error does not name the profile leaf: %s", side, r)
		}
		wantOK(t, c.rpc(profileEdit("fast-"+side, 3, "")))
		wantOK(t, edit("fast-"+side))
	}
	if got := e.core.Running().GetSoftwire().GetB4().GetBfd().GetProfile(); got != "fast-b4" {
		t.Errorf("b4 profile = %q", got)
	}
}

// A key or a content match written in another spelling of an IPv6
// address names the entry stored in canonical form: for delete, merge and
// subtree and XPath filters.
func TestNonCanonicalIPv6KeysNETCONF(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	aftr := func(addr, op string, pref int) string {
		attr := ""
		if op != "" {
			attr = ` xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="` + op + `"`
		}
		body := ""
		if pref > 0 {
			body = "<preference>" + strconv.Itoa(pref) + "</preference>"
		}
		return `<edit-config><target><running/></target><config><softwire xmlns="urn:wirebeat:softwire"><b4><aftr` + attr +
			`><address>` + addr + `</address>` + body + `</aftr></b4></softwire></config></edit-config>`
	}
	wantOK(t, c.rpc(aftr("2001:db8::7", "", 5)))
	r := c.rpc(`<get-config><source><running/></source><filter type="subtree"><softwire xmlns="urn:wirebeat:softwire"><b4><aftr><address>2001:DB8:0::7</address></aftr></b4></softwire></filter></get-config>`)
	if !strings.Contains(r, "<preference>5</preference>") {
		t.Errorf("subtree content match with another spelling: %s", r)
	}
	// The same through the XPath engine (a comparison it alone takes).
	r = c.rpc(`<get-config><source><running/></source><filter type="xpath" xmlns:sw="urn:wirebeat:softwire" select="//sw:aftr[sw:address='2001:DB8:0::7' and sw:preference &gt; 1]"/></get-config>`)
	if !strings.Contains(r, "<preference>5</preference>") {
		t.Errorf("XPath literal with another spelling: %s", r)
	}
	wantOK(t, c.rpc(aftr("2001:DB8:0:0::7", "merge", 6)))
	if got := e.core.Running().GetSoftwire().GetB4().GetAftr("2001:db8::7").GetPreference(); got != 6 || len(e.core.Running().GetSoftwire().GetB4().Aftr) != 1 {
		t.Errorf("merge with another spelling: preference %d, %d entries", got, len(e.core.Running().GetSoftwire().GetB4().Aftr))
	}
	wantOK(t, c.rpc(aftr("2001:DB8::7", "delete", 0)))
	if n := len(e.core.Running().GetSoftwire().GetB4().Aftr); n != 0 {
		t.Errorf("delete with another spelling left %d entries", n)
	}
}

// runNcclient runs one scenario of testdata/ncclient_conform.py as admin.
func runNcclient(t *testing.T, e *element, scenario string) {
	t.Helper()
	requireNcclient(t)
	host, port, _ := net.SplitHostPort(e.addr)
	out, err := exec.Command(debianPython, "testdata/ncclient_conform.py", host, port, "admin", adminPW, scenario).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("ncclient %s: %v\n%s", scenario, err, out)
	}
}

// XPath 1.0 filters beyond child steps and key predicates go to a real
// XPath engine: multi-step predicates, //, comparisons, functions; what is
// not a node-set is an error, never empty data.
func TestXPathEngineWithNcclient(t *testing.T) {
	runNcclient(t, startElement(t), "xpath")
}

// get-data and edit-data (RFC 8526) from ncclient.
func TestNMDAWithNcclient(t *testing.T) {
	runNcclient(t, startElement(t), "nmda")
}

// :url with file:// under DATADIR/files, for administrators only:
// copy-config both ways, edit-config, validate and delete-config.
func TestURLFileCopyConfig(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	if !strings.Contains(c.hello, "capability:url:1.0?scheme=file") {
		t.Fatalf("no :url capability: %s", c.hello)
	}
	file := "file://" + filepath.Join(e.dir, "files", "saved.xml")
	wantOK(t, c.rpc(profileEdit("saved", 4, "")))
	wantOK(t, c.rpc(`<copy-config><target><url>`+file+`</url></target><source><running/></source></copy-config>`))
	if b, err := os.ReadFile(filepath.Join(e.dir, "files", "saved.xml")); err != nil || !strings.Contains(string(b), "<name>saved</name>") {
		t.Fatalf("saved file: %v %s", err, b)
	}
	wantOK(t, c.rpc(profileEdit("saved", 0, "delete")))
	wantOK(t, c.rpc(`<validate><source><url>`+file+`</url></source></validate>`))
	wantOK(t, c.rpc(`<copy-config><target><candidate/></target><source><url>`+file+`</url></source></copy-config>`))
	wantOK(t, c.rpc(`<commit/>`))
	if got := e.core.Running().GetBfd().GetProfiles().GetProfile("saved").GetDetectionMultiplier(); got != 4 {
		t.Errorf("restored multiplier = %d", got)
	}
	wantOK(t, c.rpc(profileEdit("saved", 0, "delete")))
	wantOK(t, c.rpc(`<edit-config><target><running/></target><url>`+file+`</url></edit-config>`))
	if e.core.Running().GetBfd().GetProfiles().GetProfile("saved") == nil {
		t.Error("edit-config from the url did not merge the profile")
	}
	for _, bad := range []string{"file:///etc/passwd", "file://" + filepath.Join(e.dir, "files", "..", "startup.json"),
		"file://" + filepath.Join(e.dir, "files", "sub", "x.xml"), "http://example.com/x.xml", "file://otherhost" + filepath.Join(e.dir, "files", "x.xml")} {
		wantError(t, c.rpc(`<copy-config><target><url>`+bad+`</url></target><source><running/></source></copy-config>`), "invalid-value")
	}
	wantOK(t, c.rpc(`<delete-config><target><url>`+file+`</url></target></delete-config>`))
	if _, err := os.Stat(filepath.Join(e.dir, "files", "saved.xml")); !os.IsNotExist(err) {
		t.Errorf("delete-config left the file: %v", err)
	}
	// Not for operators.
	o := dial(t, e, "oper", operatorPW, true)
	wantError(t, o.rpc(`<copy-config><target><url>`+file+`</url></target><source><running/></source></copy-config>`), "access-denied")
}

// RFC 5277 replay from the on-disk notification log, with ncclient:
// startTime replays the history then replayComplete, stopTime ends the
// subscription with notificationComplete.
func TestReplayWithNcclient(t *testing.T) {
	runNcclient(t, startElement(t), "replay")
}

// The replay log survives a restart and stays within its bounds.
func TestReplayLogPersistsBounded(t *testing.T) {
	saved, savedBytes := replayMaxEntries, replayMaxBytes
	replayMaxEntries, replayMaxBytes = 5, 1<<20
	defer func() { replayMaxEntries, replayMaxBytes = saved, savedBytes }()
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	for i := 0; i < 8; i++ {
		wantOK(t, c.rpc(profileEdit("p"+strconv.Itoa(i), 3, "")))
	}
	// The log is fed asynchronously: wait until it holds the last edit.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(string(lastReplay(e.nc.replay)), "p7") {
		if time.Now().After(deadline) {
			t.Fatal("the last commit never reached the replay log")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(e.nc.replay.between(time.Time{}, time.Time{})); n != 5 {
		t.Errorf("%d entries kept, bound 5", n)
	}
	// A new server on the same data directory replays what was kept.
	r, err := openReplayLog(e.dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	kept := r.between(time.Time{}, time.Time{})
	if len(kept) != 5 || !strings.Contains(string(kept[4].msg), "p7") || strings.Contains(string(kept[0].msg), "p2'") {
		t.Errorf("reloaded %d entries, last %s", len(kept), kept[len(kept)-1].msg)
	}
}

func lastReplay(r *replayLog) []byte {
	all := r.between(time.Time{}, time.Time{})
	if len(all) == 0 {
		return nil
	}
	return all[len(all)-1].msg
}

// YANG-Push (RFC 8639/8641) from ncclient: periodic and on-change
// datastore subscriptions (a YANG patch per change, state without events
// included), the event stream, stop-time, delete-subscription, errors.
func TestYANGPushWithNcclient(t *testing.T) {
	runNcclient(t, startElement(t), "yangpush")
}
