package cli

import (
	"regexp"
	"strings"
	"testing"
)

// TestViewsAndPipes runs the operator views and the pipes the issue lists
// over OpenSSH exec requests and checks what each prints.
func TestViewsAndPipes(t *testing.T) {
	e := startElement(t)
	out, rc := e.script(t, "admin", strings.Join([]string{
		"configure",
		"set bfd profiles profile p1 detection-multiplier 4",
		"set bfd single-hop session eth0 192.0.2.1 profile p1",
		"set bfd single-hop session eth1 2001:db8::7 profile p1",
		"set softwire lwaftr binding-table softwire 10.0.0.1 1 b4-ipv6 2001:db8::1",
		"set softwire lwaftr binding-table softwire 10.0.0.1 1 br-address 2001:db8::ff",
		"set softwire lwaftr binding-table softwire 10.0.0.1 1 port-set psid-length 6",
		"set softwire lwaftr binding-table softwire 10.0.0.2 3 b4-ipv6 2001:db8::2",
		"set softwire lwaftr binding-table softwire 10.0.0.2 3 br-address 2001:db8::ff",
		"set softwire lwaftr binding-table softwire 10.0.0.2 3 port-set psid-length 6",
		"commit check",
		"commit",
	}, "\n")+"\n")
	if rc != 0 {
		t.Fatalf("rc %d:\n%s", rc, out)
	}
	mustContain(t, out, "configuration check succeeds", "commit complete")
	run := func(cmd string, wants ...string) string {
		t.Helper()
		out, rc := e.exec(t, "view", cmd)
		if rc != 0 {
			t.Fatalf("%s: rc %d:\n%s", cmd, rc, out)
		}
		mustContain(t, out, wants...)
		return out
	}
	// One line per session with the columns of the issue.
	out = run("show bfd sessions", "Address", "Interface", "State", "Remote", "Diagnostic", "Tx(us)", "Rx(us)", "Up since", "2 sessions")
	if !regexp.MustCompile(`(?m)^192\.0\.2\.1\s+eth0\s+single-hop`).MatchString(out) {
		t.Fatalf("session line:\n%s", out)
	}
	out = run("show bfd session 192.0.2.1 detail", "Session single-hop 192.0.2.1 eth0", "  profile: p1", "1 sessions")
	if strings.Contains(out, "2001:db8::7") {
		t.Fatalf("detail of one peer shows another:\n%s", out)
	}
	// The address in any spelling names the peer.
	run("show bfd session 2001:DB8:0::7", "2001:db8::7", "1 sessions")
	out = run("show softwire lwaftr binding-table ipv4 10.0.0.2", "10.0.0.2  3", "2001:db8::2")
	if strings.Contains(out, "10.0.0.1") {
		t.Fatalf("binding-table ipv4 shows another address:\n%s", out)
	}
	run("show softwire lwaftr binding-table | count", "Count: 4 lines") // the list name, the header, two rows
	out = run("show configuration bfd | display set | except session")
	if strings.Contains(out, "session") || !strings.Contains(out, "set bfd profiles profile p1 detection-multiplier 4") {
		t.Fatalf("| except:\n%s", out)
	}
	run("show configuration bfd single-hop | display xml",
		`<bfd xmlns="urn:wirebeat:bfd">`, "<session>", "<interface>eth0</interface>", "<dest-addr>192.0.2.1</dest-addr>")
	run("show configuration | match hostname | no-more", "hostname wb1;")
	// Errors: an ambiguous prefix and a value against a pattern or a
	// length, each naming the token.
	out, rc = e.exec(t, "view", "show s")
	if rc == 0 {
		t.Fatalf("ambiguous prefix accepted:\n%s", out)
	}
	mustContain(t, out, `"s" is ambiguous`, "sfc", "softwire", "system")
	before := e.core.Running()
	out, _ = e.script(t, "admin", "configure\nset system hostname \"\"\nset bfd single-hop session eth0-is-much-too-long 192.0.2.9 profile p1\ncommit\n")
	mustContain(t, out, "length 1..253", "length 1..15", "commit complete (no changes)")
	if e.core.Running() != before {
		t.Fatal("refused values changed running")
	}
	// run from configuration mode, up and the [edit] banner.
	out, _ = e.script(t, "admin", "configure\nedit bfd profiles profile p1\nset detection-multiplier 6\nup\nshow profile p1\nrun show system users | count\ntop\nshow | compare\n")
	mustContain(t, out, "show profile p1\ndetection-multiplier 6;", "Count: 2 lines", "[edit bfd profiles profile p1]\n-    detection-multiplier 4;\n+    detection-multiplier 6;")
}

// TestMonitorPagerAndCtrlC: monitor streams a commit made elsewhere, one
// line per change with its time and value, until Ctrl-C; on a terminal a
// long output pages and q stops it; | no-more does not page.
func TestMonitorPagerAndCtrlC(t *testing.T) {
	e := startElement(t)
	tt := startTTY(t, e, "admin")
	tt.keys("monitor bfd profiles", "Enter")
	tt.wait("monitoring bfd profiles; Ctrl-C stops")
	if out, rc := e.script(t, "oper", "configure\nset bfd profiles profile mon detection-multiplier 9\nset system hostname nope\ndiscard\nset bfd profiles profile mon passive true\ncommit\n"); rc != 0 {
		t.Fatalf("commit: %s", out)
	}
	tt.waitLine("monitor line", "commit", "by oper via cli", "/bfd/profiles/profile[name=mon]")
	sc := tt.screen()
	if !regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} commit \d+ by oper via cli: create /bfd/profiles/profile\[name=mon\]`).MatchString(sc) {
		t.Fatalf("monitor line without time or operation:\n%s", sc)
	}
	// A leaf set on its own comes with its value (the discard above
	// dropped the first detection-multiplier).
	if out, rc := e.script(t, "admin", "configure\nset bfd profiles profile mon detection-multiplier 11\ncommit\n"); rc != 0 {
		t.Fatalf("commit: %s", out)
	}
	tt.waitLine("monitor leaf", "by admin via cli: create /bfd/profiles/profile[name=mon]/detection-multiplier 11")
	if strings.Contains(tt.screen(), "hostname") {
		t.Fatal("monitor of bfd profiles showed another subtree")
	}
	tt.keys("C-c")
	tt.clear("admin@wb1>")
	tt.keys("show system users", "Enter")
	tt.wait("Session")

	// The pager: more than a screen of output (the pane has 50 rows).
	var set strings.Builder
	set.WriteString("configure\n")
	for i := 0; i < 60; i++ {
		set.WriteString("set bfd profiles profile p" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + " detection-multiplier 3\n")
	}
	set.WriteString("commit\n")
	if out, rc := e.script(t, "admin", set.String()); rc != 0 {
		t.Fatalf("commit: %s", out)
	}
	tt.clear("admin@wb1>")
	tt.keys("show configuration | display set", "Enter")
	tt.wait("---(more)---")
	tt.keys("q")
	tt.clear("admin@wb1>")
	tt.keys("show configuration | display set | no-more | count", "Enter")
	tt.waitLine("no-more count", "Count:", "lines")
	if strings.Contains(tt.screen(), "---(more)---") {
		t.Fatal("| no-more paged")
	}
	tt.clear("admin@wb1>")
	tt.keys("show configuration | display set | no-more", "Enter")
	tt.wait("set system hostname wb1")
	if strings.Contains(tt.screen(), "---(more)---") {
		t.Fatal("| no-more paged")
	}
}
