package netconf

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wirebeat/wirebeat/tools/testenv"
)

// buildLnc2Client compiles tools/lnc2client with gcc against Debian's
// libnetconf2-dev.
func buildLnc2Client(t *testing.T) string {
	t.Helper()
	gcc := testenv.Tool(t, "gcc", "gcc")
	if _, err := os.Stat("/usr/include/nc_client.h"); err != nil {
		if testenv.IsRoot() {
			t.Fatal("libnetconf2-dev missing: install Debian packages libnetconf2-dev libssh-dev (make deps does)")
		}
		testenv.Skip(t, "libnetconf2-dev not installed; installing it needs root")
	}
	bin := filepath.Join(t.TempDir(), "lnc2client")
	out, err := exec.Command(gcc, "-Wall", "-o", bin, "../../tools/lnc2client/lnc2client.c", "-lnetconf2", "-lyang").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc lnc2client: %v\n%s", err, out)
	}
	return bin
}

// Real client: libnetconf2 builds its context from our YANG library and
// get-schema alone (its search path is an empty directory), then lists
// the modules and runs get-config and edit-config.
func TestLibnetconf2Client(t *testing.T) {
	bin := buildLnc2Client(t)
	e := startElement(t)
	host, port, _ := net.SplitHostPort(e.addr)
	empty := t.TempDir()
	edit := `<bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>lnc2</name><detection-multiplier>9</detection-multiplier></profile></profiles></bfd>`
	cmd := exec.Command(bin, host, port, "admin", empty, "schemas", "get-config", "edit", edit, "get-config")
	cmd.Env = append(os.Environ(), "LNC2_PASSWORD="+adminPW)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lnc2client: %v\n%s", err, out)
	}
	s := string(out)
	t.Logf("lnc2client:\n%.3000s", s)
	for _, m := range []string{"ietf-netconf@2011-06-01 implemented", "ietf-netconf-monitoring@2010-10-04 implemented",
		"ietf-yang-library@2019-01-04 implemented", "ietf-netconf-with-defaults@2011-06-01 implemented",
		"wirebeat-bfd@2026-11-23 implemented", "wirebeat-system@2026-11-23 implemented"} {
		if !strings.Contains(s, "module "+m) {
			t.Errorf("libnetconf2's context lacks %s:\n%s", m, s)
		}
	}
	if !regexp.MustCompile(`(?s)get-config reply:.*<name>admin</name>`).MatchString(s) {
		t.Errorf("get-config did not return the users:\n%s", s)
	}
	if !strings.Contains(s, "edit-config ok") {
		t.Errorf("edit-config not ok:\n%s", s)
	}
	if got := e.core.Running().GetBfd().GetProfiles().GetProfile("lnc2").GetDetectionMultiplier(); got != 9 {
		t.Errorf("running multiplier = %d after libnetconf2's edit-config", got)
	}
}

// replyData returns the inner XML of the <data> element of a reply.
func replyData(t *testing.T, reply string) string {
	t.Helper()
	i := strings.Index(reply, "<data")
	j := strings.LastIndex(reply, "</data>")
	if i < 0 || j < i {
		t.Fatalf("no <data> in %.500s", reply)
	}
	k := strings.IndexByte(reply[i:], '>')
	if reply[i+k-1] == '/' {
		return ""
	}
	return reply[i+k+1 : j]
}

// fetchSchemas stores every module netconf-state/schemas lists with a
// NETCONF location, through get-schema, as dir/NAME@REVISION.yang.
func fetchSchemas(t *testing.T, c *client, dir string) []string {
	t.Helper()
	r := c.rpc(`<get><filter type="subtree"><netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><schemas/></netconf-state></filter></get>`)
	var names []string
	for _, m := range regexp.MustCompile(`<schema><identifier>([^<]+)</identifier><version>([^<]+)</version><format>yang</format><namespace>[^<]*</namespace><location>NETCONF</location></schema>`).FindAllStringSubmatch(r, -1) {
		text := c.rpc(`<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><identifier>` + m[1] + `</identifier><version>` + m[2] + `</version></get-schema>`)
		body := xmlUnescape(t, replyData(t, text))
		if err := os.WriteFile(filepath.Join(dir, m[1]+"@"+m[2]+".yang"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, m[1])
	}
	return names
}

func xmlUnescape(t *testing.T, s string) string {
	t.Helper()
	x, err := parseXML([]byte("<t>" + s + "</t>"))
	if err != nil {
		t.Fatalf("reply text: %v", err)
	}
	return x.Text
}

// yanglint validates the server's own YANG library (loaded with -Y, its
// modules fetched with get-schema and nothing else on the search path)
// and then the full <get> output, configuration and state, against the
// context that library describes.
func TestYanglintValidatesLibraryAndGet(t *testing.T) {
	yanglint := testenv.Tool(t, "yanglint", "libyang2-tools")
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	dir := t.TempDir()
	got := fetchSchemas(t, c, dir)
	for _, want := range []string{"ietf-netconf", "ietf-netconf-monitoring", "ietf-yang-library", "ietf-datastores", "wirebeat-bfd"} {
		if !slicesContains(got, want) {
			t.Errorf("get-schema cannot serve %s (served: %v)", want, got)
		}
	}
	lib := replyData(t, c.rpc(`<get><filter type="subtree"><yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/><modules-state xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/></filter></get>`))
	if !strings.Contains(lib, "<module-set-id>") || !strings.Contains(lib, "<conformance-type>import</conformance-type>") {
		t.Errorf("modules-state incomplete: %s", lib)
	}
	libFile := filepath.Join(dir, "library.xml")
	os.WriteFile(libFile, []byte(lib), 0o644)
	// The library as served validates against ietf-yang-library itself...
	if out, err := exec.Command(yanglint, "-D", "-p", dir, "-t", "data", filepath.Join(dir, "ietf-yang-library@2019-01-04.yang"), filepath.Join(dir, "ietf-datastores@2018-02-14.yang"), libFile).CombinedOutput(); err != nil {
		t.Errorf("yanglint on the yang-library data: %v\n%s", err, out)
	}
	os.WriteFile(libFile, []byte(fetchableLibrary(lib, got)), 0o644)
	// ...and builds yanglint's context, in which the whole <get> validates.
	getFile := filepath.Join(dir, "get.xml")
	os.WriteFile(getFile, []byte(replyData(t, c.rpc(`<get/>`))), 0o644)
	if out, err := exec.Command(yanglint, "-D", "-p", dir, "-Y", libFile, "-t", "get", getFile).CombinedOutput(); err != nil {
		t.Errorf("yanglint -Y library on the <get> output: %v\n%s", err, out)
	}
}

// fetchableLibrary restricts YANG library data to the modules get-schema
// served: a module whose text is not installed on this host (the server
// lists it since it implements it, without a NETCONF location) cannot be
// loaded by any client, yanglint included.
func fetchableLibrary(lib string, served []string) string {
	re := regexp.MustCompile(`<(module|import-only-module)><name>([^<]+)</name>.*?</(module|import-only-module)>`)
	return re.ReplaceAllStringFunc(lib, func(m string) string {
		if slicesContains(served, re.FindStringSubmatch(m)[2]) {
			return m
		}
		return ""
	})
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Without the system's YANG directories the IETF modules stay listed (the
// server implements them) while get-schema says what is missing.
func TestLibraryWithoutSystemTexts(t *testing.T) {
	si, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	missing := si.buildLibrary([]string{t.TempDir()}, nmdaOps, false, false)
	if !slicesContains(missing, "ietf-netconf@2011-06-01") || slicesContains(missing, "wirebeat-bfd@2026-11-23") {
		t.Errorf("missing = %v", missing)
	}
	m := si.libraryModule("ietf-netconf", "")
	if m == nil || m.Text != "" || !slicesContains(m.Features, "candidate") {
		t.Errorf("ietf-netconf entry = %+v", m)
	}
	if m := si.libraryModule("wirebeat-bfd", "2026-11-23"); m == nil || !strings.Contains(m.Text, "module wirebeat-bfd") {
		t.Errorf("our own module text lost: %+v", m)
	}
}

const nmdaNS = `xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda" xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores"`

// get-data (RFC 8526) of every datastore validates with yanglint in the
// context of the server's own YANG library; edit-data writes candidate
// without touching running; with-origin annotations validate too.
func TestGetDataPerDatastoreYanglint(t *testing.T) {
	yanglint := testenv.Tool(t, "yanglint", "libyang2-tools")
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	dir := t.TempDir()
	served := fetchSchemas(t, c, dir)
	lib := replyData(t, c.rpc(`<get><filter type="subtree"><yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/><modules-state xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/></filter></get>`))
	for _, m := range []string{"ietf-netconf-nmda", "ietf-origin", "<name>ds:intended</name>"} {
		if !strings.Contains(lib, m) {
			t.Errorf("YANG library lacks %s", m)
		}
	}
	libFile := filepath.Join(dir, "library.xml")
	os.WriteFile(libFile, []byte(fetchableLibrary(lib, served)), 0o644)

	wantOK(t, c.rpc(`<edit-data `+nmdaNS+`><datastore>ds:candidate</datastore><config><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>nmda</name><detection-multiplier>6</detection-multiplier></profile></profiles></bfd></config></edit-data>`))
	getData := func(ds, extra string) string {
		return c.rpc(`<get-data ` + nmdaNS + `><datastore>ds:` + ds + `</datastore>` + extra + `</get-data>`)
	}
	if r := getData("candidate", ""); !strings.Contains(r, "<name>nmda</name>") {
		t.Errorf("edit-data did not reach candidate: %s", r)
	}
	if r := getData("running", ""); strings.Contains(r, "<name>nmda</name>") {
		t.Errorf("edit-data of candidate reached running: %s", r)
	}
	validate := func(what, data, typ string) {
		t.Helper()
		f := filepath.Join(dir, strings.ReplaceAll(what, " ", "_")+".xml")
		os.WriteFile(f, []byte(data), 0o644)
		if out, err := exec.Command(yanglint, "-D", "-p", dir, "-Y", libFile, "-t", typ, f).CombinedOutput(); err != nil {
			t.Errorf("yanglint %s: %v\n%s\n%.2000s", what, err, out, data)
		}
	}
	// startup is written on demand (copy-config), not by commits: save
	// running so that startup has content to validate.
	wantOK(t, c.rpc(`<copy-config><target><startup/></target><source><running/></source></copy-config>`))
	for _, ds := range []string{"running", "candidate", "startup", "intended"} {
		validate(ds, replyData(t, getData(ds, "")), "config")
	}
	op := replyData(t, getData("operational", ""))
	if !strings.Contains(op, "<netconf-state") || !strings.Contains(op, "<version>") {
		t.Errorf("operational lacks state: %.1000s", op)
	}
	validate("operational", op, "data")
	origin := replyData(t, getData("operational", `<with-origin/>`))
	if !strings.Contains(origin, `or:origin="or:intended"`) || !strings.Contains(origin, `or:origin="or:system"`) {
		t.Errorf("with-origin: %.1500s", origin)
	}
	validate("operational with origin", origin, "data")
	// config-filter false: state only (keys kept); true: configuration only.
	st := replyData(t, getData("operational", `<config-filter>false</config-filter>`))
	if strings.Contains(st, "<password>") || !strings.Contains(st, "<version>") {
		t.Errorf("config-filter false: %.1500s", st)
	}
	validate("operational state only", st, "data")
	cfg := replyData(t, getData("operational", `<config-filter>true</config-filter>`))
	if !strings.Contains(cfg, "<password>") || strings.Contains(cfg, "<version>") || strings.Contains(cfg, "netconf-state") {
		t.Errorf("config-filter true: %.1500s", cfg)
	}
	// max-depth counts from the selected nodes.
	wantOK(t, c.rpc(`<commit/>`))
	d := replyData(t, getData("running", `<subtree-filter><bfd xmlns="urn:wirebeat:bfd"><profiles/></bfd></subtree-filter><max-depth>2</max-depth>`))
	if !strings.Contains(d, "<profile><name>nmda</name></profile>") || strings.Contains(d, "detection-multiplier") {
		t.Errorf("max-depth 2: %s", d)
	}
	x := replyData(t, getData("operational", `<xpath-filter xmlns:wbbfd="urn:wirebeat:bfd">/wbbfd:bfd/wbbfd:profiles/wbbfd:profile[wbbfd:detection-multiplier > 5]</xpath-filter>`))
	if !strings.Contains(x, "<name>nmda</name>") {
		t.Errorf("xpath-filter: %s", x)
	}
	// edit-data of startup changes startup alone.
	wantOK(t, c.rpc(`<edit-data `+nmdaNS+`><datastore>ds:startup</datastore><config><system xmlns="urn:wirebeat:system"><hostname>boot-name</hostname></system></config></edit-data>`))
	if r := getData("startup", ""); !strings.Contains(r, "<hostname>boot-name</hostname>") {
		t.Errorf("edit-data of startup: %.500s", r)
	}
	if strings.Contains(getData("running", ""), "boot-name") {
		t.Error("edit-data of startup reached running")
	}
	// Errors: edit-data of operational, an unknown datastore, with-origin on running.
	wantError(t, c.rpc(`<edit-data `+nmdaNS+`><datastore>ds:operational</datastore><config/></edit-data>`), "invalid-value")
	wantError(t, getData("nowhere", ""), "invalid-value")
	wantError(t, getData("running", "<with-origin/>"), "invalid-value")
}
