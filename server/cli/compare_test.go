package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
)

// compareMode is configuration mode over a core holding a profile, a
// session and n bindings, without SSH.
func compareMode(t *testing.T, n int) *configMode {
	t.Helper()
	core, err := server.New(server.Options{DataDir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	sys := &server.Session{User: "system", Role: server.RoleAdmin, Transport: "system"}
	if err := core.Edit(sys, server.Running, func(root *gen.Device) error {
		root.GetOrCreateSystem().Hostname = ygot.String("wb1")
		u := root.GetOrCreateSystem().GetOrCreateAaa().GetOrCreateUsers().GetOrCreateUser("admin")
		u.Password, u.Role = ygot.String("pw"), gen.WirebeatSystem_UserRole_admin
		p := root.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("x")
		p.DetectionMultiplier, p.DesiredMinTxInterval = ygot.Uint8(3), ygot.Uint32(100000)
		root.GetOrCreateBfd().GetOrCreateSingleHop().GetOrCreateSession("eth0", "192.0.2.1").Profile = ygot.String("x")
		bt := root.GetOrCreateSoftwire().GetOrCreateLwaftr().GetOrCreateBindingTable()
		for i := 0; i < n; i++ {
			sw := bt.GetOrCreateSoftwire(fmt.Sprintf("10.0.%d.%d", i/256, i%256), 0)
			sw.B4Ipv6, sw.BrAddress = ygot.String(fmt.Sprintf("2001:db8::%x", i+1)), ygot.String("2001:db8::ff")
			sw.GetOrCreatePortSet().PsidLength = ygot.Uint8(0)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sess := &session{srv: &Server{core: core}, core: &server.Session{ID: 99, User: "admin", Role: server.RoleAdmin, Transport: "cli"}}
	return newConfigMode(sess)
}

// run runs configuration-mode lines and returns the output of the last.
func (c *configMode) run(t *testing.T, lines ...string) string {
	t.Helper()
	var out []string
	for _, l := range lines {
		out = out[:0]
		toks, err := tokenize(l, false)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		cmd, stages := splitPipes(toks)
		pipes, perr := parsePipes(stages, true)
		if perr != nil {
			t.Fatalf("%s: %v", l, perr)
		}
		sink := &filterSink{next: sinkFunc(func(s string) error { out = append(out, s); return nil }), filters: pipes.filters, count: pipes.count}
		if _, err := c.command(cmd, pipes, sink, l); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if err := sink.finish(); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(out, "\n")
}

// TestCompareShowsOnlyChanges: show | compare prints the changed lines
// under Junos [edit ...] headers, not the subtrees that hold them, at the
// top, at a level and for a path.
func TestCompareShowsOnlyChanges(t *testing.T) {
	c := compareMode(t, 2000)
	if got := c.run(t, "show | compare"); got != "" {
		t.Fatalf("compare with no change: %q", got)
	}
	got := c.run(t,
		"set bfd profiles profile x detection-multiplier 5",
		"set bfd profiles profile fast passive true",
		"set bfd profiles profile fast detection-multiplier 4",
		"delete bfd single-hop session eth0 192.0.2.1",
		"set bfd single-hop session eth1 2001:db8::1 profile fast",
		"set system hostname wb2",
		"set softwire lwaftr binding-table softwire 10.0.3.4 0 b4-ipv6 2001:db8::abcd",
		"show | compare")
	want := strings.Join([]string{
		"[edit bfd profiles]",
		"+    profile fast {",
		"+        detection-multiplier 4;",
		"+        passive true;",
		"+    }",
		"[edit bfd profiles profile x]",
		"-    detection-multiplier 3;",
		"+    detection-multiplier 5;",
		"[edit bfd single-hop]",
		"-    session eth0 192.0.2.1 {",
		"-        profile x;",
		"-    }",
		"+    session eth1 2001:db8::1 {",
		"+        profile fast;",
		"+    }",
		"[edit softwire lwaftr binding-table softwire 10.0.3.4 0]",
		"-    b4-ipv6 2001:db8::305;",
		"+    b4-ipv6 2001:db8::abcd;",
		"[edit system]",
		"-    hostname wb1;",
		"+    hostname wb2;",
	}, "\n")
	if got != want {
		t.Fatalf("compare:\n%s\nwant:\n%s", got, want)
	}
	// At a level, or for a path: only what is below it.
	got = c.run(t, "edit bfd profiles profile fast", "show | compare")
	want = "[edit bfd profiles]\n+    profile fast {\n+        detection-multiplier 4;\n+        passive true;\n+    }"
	if got != want {
		t.Fatalf("compare at a level:\n%s\nwant:\n%s", got, want)
	}
	got = c.run(t, "top", "show bfd profiles profile x | compare")
	if got != "[edit bfd profiles profile x]\n-    detection-multiplier 3;\n+    detection-multiplier 5;" {
		t.Fatalf("compare of a path:\n%s", got)
	}
	if got := c.run(t, "show softwire | compare | count"); got != "Count: 3 lines" {
		t.Fatalf("compare beside 2000 bindings: %q", got)
	}
}

// A leaf-list: whole when it appears, value by value when it changes.
func TestCompareLeafList(t *testing.T) {
	c := compareMode(t, 0)
	got := c.run(t, "set bfd sbfd reflector discriminator 100", "set bfd sbfd reflector discriminator 200", "show | compare")
	if want := "[edit bfd sbfd reflector]\n+    discriminator [ 100 200 ];"; got != want {
		t.Fatalf("new leaf-list:\n%s\nwant\n%s", got, want)
	}
	c.run(t, "commit")
	got = c.run(t, "delete bfd sbfd reflector discriminator 100", "set bfd sbfd reflector discriminator 300", "show | compare")
	if want := "[edit bfd sbfd reflector]\n-    discriminator 100;\n+    discriminator 300;"; got != want {
		t.Fatalf("changed leaf-list:\n%s\nwant\n%s", got, want)
	}
	if got := c.run(t, "show bfd sbfd | display set"); got != "set bfd sbfd reflector discriminator 200\nset bfd sbfd reflector discriminator 300" {
		t.Fatalf("display set of a leaf-list: %q", got)
	}
}

// TestHelpTexts: ? gives each next word with the YANG description (read
// from the modules, as the generated schema has none), type, range, units
// and default; operator views carry their schema node's help; the words
// after commit options and show bfd session are listed.
func TestHelpTexts(t *testing.T) {
	c := compareMode(t, 0)
	sess := c.sess
	help := func(mode *configMode, line string) map[string]string {
		sess.cfg = mode
		out := map[string]string{}
		for _, k := range sess.complete(line).cands {
			out[k.word] = k.help
		}
		return out
	}
	h := help(c, "set bfd profiles profile x ")
	if d := h["detection-multiplier"]; !strings.Contains(d, "How many of the peer's packet intervals") || !strings.Contains(d, "range 1..255") || !strings.Contains(d, "default 3") {
		t.Fatalf("detection-multiplier help %q", d)
	}
	if d := h["authentication"]; d != "Authentication of control packets." {
		t.Fatalf("container help %q", d)
	}
	if d := help(c, "set bfd single-hop session ")["<interface>"]; !strings.Contains(d, "length 1..15") || !strings.Contains(d, "The interface the neighbour is reached on.") {
		t.Fatalf("key help %q", d)
	}
	if h := help(c, "commit comment "); len(h) != 1 || h["<text>"] == "" {
		t.Fatalf("after commit comment: %v", h)
	}
	if d := help(c, "commit confirmed ")["<minutes>"]; !strings.Contains(d, "range 1..65535, default 10") {
		t.Fatalf("after commit confirmed: %q", d)
	}
	op := help(nil, "show ")
	if op["bfd"] != "BFD configuration and state of the element." || op["configuration"] == "" {
		t.Fatalf("show help %v", op)
	}
	if d := help(nil, "show bfd session ")["192.0.2.1"]; d != "single-hop session on eth0" {
		t.Fatalf("show bfd session peers: %v", help(nil, "show bfd session "))
	}
}
