package cli

import (
	"strings"
	"testing"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server/internal/testelem"
)

// NACM on the CLI: a read rule hides a subtree from show (operational and
// configuration), an exec rule on get refuses show, for the viewers only.
func TestCLINACMShow(t *testing.T) {
	e := startElement(t)
	testelem.Edit(t, e.core, func(root *gen.Device) {
		root.GetBfd().GetProfiles().GetOrCreateProfile("visible").DetectionMultiplier = ygot.Uint8(4)
		testelem.DenyRead(root, "hide-default", "/bfd/profiles/profile[name='default']")
	})
	for _, cmd := range []string{"show configuration bfd", "show bfd"} {
		out, _ := e.exec(t, "view", cmd)
		if strings.Contains(out, "default") || !strings.Contains(out, "visible") {
			t.Errorf("view %q:\n%s", cmd, out)
		}
		if out, _ := e.exec(t, "admin", cmd); !strings.Contains(out, "default") {
			t.Errorf("admin %q:\n%s", cmd, out)
		}
	}
	testelem.Edit(t, e.core, func(root *gen.Device) { testelem.DenyRPC(root, "no-get", "ietf-netconf", "get") })
	before := e.core.Denials().Operations
	out, _ := e.exec(t, "view", "show system")
	if !strings.Contains(out, "operation get denied") {
		t.Errorf("show with get denied:\n%s", out)
	}
	if e.core.Denials().Operations != before+1 {
		t.Error("denial not counted")
	}
}

// NACM on monitor: a change to a node the viewer may not read is not
// streamed to it; the changes it may read are.
func TestCLINACMMonitor(t *testing.T) {
	e := startElement(t)
	testelem.Edit(t, e.core, func(root *gen.Device) {
		testelem.DenyRead(root, "hide-secret", "/bfd/profiles/profile[name='secret']")
	})
	tt := startTTY(t, e, "view")
	tt.keys("monitor bfd profiles", "Enter")
	tt.wait("monitoring bfd profiles; Ctrl-C stops")
	// secret is committed first: once open's line is shown, secret's
	// event has been through the monitor too.
	for _, name := range []string{"secret", "open"} {
		if out, rc := e.script(t, "admin", "configure\nset bfd profiles profile "+name+" detection-multiplier 7\ncommit\n"); rc != 0 {
			t.Fatalf("commit %s: %s", name, out)
		}
	}
	tt.waitLine("monitor line", "by admin via cli", "/bfd/profiles/profile[name=open]")
	if sc := tt.screen(); strings.Contains(sc, "secret") {
		t.Fatalf("viewer's monitor streamed a denied node:\n%s", sc)
	}
	tt.keys("C-c")
}

// Configuration mode is decided by NACM, not by role: a viewer whom a
// rule lets write /bfd may configure and commit there, and nowhere else.
func TestCLINACMConfigure(t *testing.T) {
	e := startElement(t)
	testelem.Edit(t, e.core, func(root *gen.Device) {
		g := root.GetOrCreateNacm().GetOrCreateGroups().GetOrCreateGroup("bfd-editors")
		g.UserName = []string{"view"}
		rl := root.GetNacm().GetOrCreateRuleList("10-bfd-editors")
		rl.Group = []string{"bfd-editors"}
		r := rl.GetOrCreateRule("write-bfd")
		r.ModuleName = ygot.String("wirebeat-bfd")
		r.Path = ygot.String("/bfd")
		r.AccessOperations = ygot.String("create update delete")
		r.Action = gen.IETFNetconfAcm_ActionType_permit
	})
	out, _ := e.script(t, "view", "configure\nset system hostname evil\ncommit\ndiscard\nset bfd profiles profile vw detection-multiplier 4\ncommit\n")
	mustContain(t, out, "Entering configuration mode", "[system hostname] update access denied", "commit complete")
	if e.core.Running().GetSystem().GetHostname() != "wb1" {
		t.Fatal("viewer changed /system")
	}
	if e.core.Running().GetBfd().GetProfiles().GetProfile("vw") == nil {
		t.Fatal("viewer permitted /bfd could not commit there")
	}
}
