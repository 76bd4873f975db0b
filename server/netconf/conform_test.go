package netconf

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
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
