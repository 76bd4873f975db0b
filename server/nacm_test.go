package server

import (
	"strings"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

var (
	nacmOper   = &Session{ID: 2, User: "oper", Role: RoleOperator, Transport: "test"}
	nacmViewer = &Session{ID: 3, User: "ann", Role: RoleViewer, Transport: "test"}
	systemSess = &Session{ID: 0, User: "system", Role: RoleAdmin, Transport: "system"}
)

// nacmServer is a server with users admin, oper (operator) and ann (a
// viewer), a BFD profile and the rules edit makes.
func nacmServer(t *testing.T, edit func(n *gen.IETFNetconfAcm_Nacm)) *Server {
	t.Helper()
	s := newTestServer(t, t.TempDir())
	if err := s.Edit(systemSess, Running, func(root *gen.Device) error {
		users := root.GetOrCreateSystem().GetOrCreateAaa().GetOrCreateUsers()
		for name, role := range map[string]gen.E_WirebeatSystem_UserRole{"root": gen.WirebeatSystem_UserRole_admin,
			"oper": gen.WirebeatSystem_UserRole_operator, "ann": gen.WirebeatSystem_UserRole_viewer} {
			u := users.GetOrCreateUser(name)
			u.Password = ygot.String("$2a$10$abcdefghijklmnopqrstuu5Jm4Cu0Bz4QW1m1Sx1kqnUY5mnwCb.m")
			u.Role = role
		}
		root.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("p1").DetectionMultiplier = ygot.Uint8(3)
		if edit != nil {
			edit(root.GetOrCreateNacm())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func addRule(n *gen.IETFNetconfAcm_Nacm, list string, groups []string, rule string, set func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule)) {
	rl := n.GetOrCreateRuleList(list)
	rl.Group = groups
	r := rl.GetOrCreateRule(rule)
	set(r)
}

func wantDenied(t *testing.T, err error, path string) {
	t.Helper()
	e := schema.AsError(err)
	if e == nil || e.Tag != schema.TagAccessDenied {
		t.Fatalf("want access-denied, got %v", err)
	}
	if path != "" && schema.PathString(e.Path) != path {
		t.Errorf("error path %s, want %s", schema.PathString(e.Path), path)
	}
}

// The implicit role rules: operators write the engines' subtrees, not
// /system or /nacm; viewers write nothing and may not lock; only
// administrators read password hashes or kill sessions.
func TestNACMRoleDefaults(t *testing.T) {
	s := nacmServer(t, nil)
	if err := s.Edit(nacmOper, Running, setProfile("op", 4)); err != nil {
		t.Fatalf("operator edit of /bfd: %v", err)
	}
	wantDenied(t, s.Edit(nacmOper, Running, func(r *gen.Device) error { r.GetOrCreateSystem().Hostname = ygot.String("x"); return nil }), "/system/hostname")
	wantDenied(t, s.Edit(nacmOper, Running, func(r *gen.Device) error { r.GetOrCreateNacm().EnableNacm = ygot.Bool(false); return nil }), "/nacm/enable-nacm")
	wantDenied(t, s.Edit(nacmViewer, Running, setProfile("v", 4)), "")
	wantDenied(t, s.Lock(nacmViewer, Candidate), "")
	if err := s.Lock(nacmOper, Candidate); err != nil {
		t.Fatalf("operator lock: %v", err)
	}
	if _, err := s.KillSession(nacmOper, 1); err == nil {
		t.Fatal("operator killed a session")
	}
	if err := s.Edit(admin, Running, func(r *gen.Device) error { r.GetOrCreateSystem().Hostname = ygot.String("a"); return nil }); err != nil {
		t.Fatalf("admin edit: %v", err)
	}
	for _, sess := range []*Session{nacmOper, nacmViewer} {
		if u := s.Readable(sess, s.Running()).GetSystem().GetAaa().GetUsers().GetUser("root"); u == nil || u.Password != nil {
			t.Errorf("%s reads %v", sess.Role, u)
		}
	}
	if s.Readable(admin, s.Running()).GetSystem().GetAaa().GetUsers().GetUser("root").Password == nil {
		t.Error("admin does not read the hash")
	}
	if s.Running().GetSystem().GetAaa().GetUsers().GetUser("root").Password == nil {
		t.Error("Readable changed the committed tree")
	}
	d := s.Denials()
	if d.DataWrites != 3 || d.Operations != 2 {
		t.Errorf("denials %+v, want 3 writes and 2 operations", d)
	}
	st, err := s.State([]*gpb.Path{{Elem: []*gpb.PathElem{{Name: "nacm"}}}})
	if err != nil || st.GetNacm().GetDeniedDataWrites() != 3 || st.GetNacm().GetDeniedOperations() != 2 {
		t.Errorf("state %+v %v", st.GetNacm(), err)
	}
}

// A viewer in a group that may write one subtree: that subtree only; the
// first matching rule wins, lists and rules in name order; read rules
// leave subtrees out; exec rules refuse operations by name.
func TestNACMCustomGroup(t *testing.T) {
	s := nacmServer(t, func(n *gen.IETFNetconfAcm_Nacm) {
		n.GetOrCreateGroups().GetOrCreateGroup("bfd-ed").UserName = []string{"ann"}
		addRule(n, "10-ed", []string{"bfd-ed"}, "10-no-p1", func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) {
			r.Path = ygot.String("/wbbfd:bfd/profiles/profile[name='p1']")
			r.AccessOperations = ygot.String("*")
			r.Action = gen.IETFNetconfAcm_ActionType_deny
		})
		addRule(n, "10-ed", []string{"bfd-ed"}, "20-bfd", func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) {
			r.Path = ygot.String("/bfd")
			r.AccessOperations = ygot.String("create update delete")
			r.Action = gen.IETFNetconfAcm_ActionType_permit
		})
		addRule(n, "20-more", []string{"bfd-ed"}, "lock", func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) {
			r.ModuleName = ygot.String("ietf-netconf")
			r.RpcName = ygot.String("lock")
			r.AccessOperations = ygot.String("exec")
			r.Action = gen.IETFNetconfAcm_ActionType_permit
		})
	})
	if err := s.Edit(nacmViewer, Running, setProfile("mine", 4)); err != nil {
		t.Fatalf("write inside the group's subtree: %v", err)
	}
	before := s.Running()
	wantDenied(t, s.Edit(nacmViewer, Running, setProfile("p1", 9)), "/bfd/profiles/profile[name=p1]/detection-multiplier")
	wantDenied(t, s.Edit(nacmViewer, Running, func(r *gen.Device) error { r.GetOrCreateSystem().Hostname = ygot.String("x"); return nil }), "/system/hostname")
	if s.Running() != before {
		t.Error("a refused write changed running")
	}
	// A rule on a node below an entry decides when the entry is created
	// whole: creating p2 with passive set creates passive.
	if err := s.Edit(admin, Running, func(root *gen.Device) error {
		addRule(root.GetNacm(), "10-ed", []string{"bfd-ed"}, "15-no-passive", func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) {
			r.Path = ygot.String("/bfd/profiles/profile/passive")
			r.AccessOperations = ygot.String("create")
			r.Action = gen.IETFNetconfAcm_ActionType_deny
		})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, s.Edit(nacmViewer, Running, func(root *gen.Device) error {
		root.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("p2").Passive = ygot.Bool(true)
		return nil
	}), "/bfd/profiles/profile[name=p2]/passive")
	if err := s.Edit(nacmViewer, Running, setProfile("p3", 3)); err != nil {
		t.Errorf("entry without the denied node: %v", err)
	}
	// The custom list comes before the implicit viewer list: lock is permitted.
	if err := s.Lock(nacmViewer, Running); err != nil {
		t.Errorf("lock permitted by 20-more: %v", err)
	}
	got := s.Readable(nacmViewer, s.Running()).GetBfd().GetProfiles()
	if got.GetProfile("p1") != nil || got.GetProfile("mine") == nil {
		t.Errorf("viewer reads %v", got)
	}
	if s.Readable(nacmOper, s.Running()).GetBfd().GetProfiles().GetProfile("p1") == nil {
		t.Error("the rule hid p1 from another group")
	}
}

// Exec and notification rules; enable-nacm false; the recovery session
// (the element's own) is never refused, even when the admin rules deny.
func TestNACMExecNotificationsRecovery(t *testing.T) {
	s := nacmServer(t, func(n *gen.IETFNetconfAcm_Nacm) {
		addRule(n, "admin", []string{"admin"}, "deny-all", func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) {
			r.Action = gen.IETFNetconfAcm_ActionType_deny
		})
		addRule(n, "all", []string{"*"}, "no-copy", func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) {
			r.RpcName = ygot.String("copy-config")
			r.Action = gen.IETFNetconfAcm_ActionType_deny
		})
		addRule(n, "all", []string{"*"}, "no-bfd-events", func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) {
			r.NotificationName = ygot.String("session-state-change")
			r.Action = gen.IETFNetconfAcm_ActionType_deny
		})
	})
	wantDenied(t, s.Exec(nacmOper, "ietf-netconf", "copy-config"), "")
	if err := s.Exec(nacmOper, "ietf-netconf", "get"); err != nil {
		t.Errorf("get: %v", err)
	}
	if err := s.Exec(nacmOper, "ietf-netconf", "close-session"); err != nil {
		t.Errorf("close-session is always permitted: %v", err)
	}
	if s.NotificationPermitted(nacmOper, "wirebeat-bfd", "session-state-change") || !s.NotificationPermitted(nacmOper, "wirebeat-bfd", "other") {
		t.Error("notification rules")
	}
	if s.deniedNotifs.Load() != 1 {
		t.Errorf("denied-notifications %d", s.deniedNotifs.Load())
	}
	// The configured admin list replaces the implicit one: admins are locked out...
	wantDenied(t, s.Edit(admin, Running, setProfile("a", 3)), "")
	// ...but the element's own session is not, and turns NACM off.
	if err := s.Edit(systemSess, Running, func(r *gen.Device) error { r.GetOrCreateNacm().EnableNacm = ygot.Bool(false); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Edit(nacmViewer, Running, setProfile("a", 3)); err != nil {
		t.Errorf("with enable-nacm false: %v", err)
	}
}

// A rule that cannot be used is refused when committed, with its path.
func TestNACMBadRuleRefused(t *testing.T) {
	s := nacmServer(t, nil)
	for _, bad := range []func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule){
		func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) { r.Path = ygot.String("/bfd/no-such-node") },
		func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) { r.Path = ygot.String("bfd") },
		func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) { r.Path = ygot.String("/bfd/profiles/profile[name='x") },
	} {
		err := s.Edit(admin, Running, func(root *gen.Device) error {
			addRule(root.GetOrCreateNacm(), "l", []string{"*"}, "r", func(r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) {
				r.Action = gen.IETFNetconfAcm_ActionType_deny
				bad(r)
			})
			return nil
		})
		if e := schema.AsError(err); e == nil || !strings.Contains(schema.PathString(e.Path), "rule-list[name=l]") {
			t.Errorf("bad rule accepted or without path: %v", err)
		}
	}
}
