// Package testelem is the element setup the front ends' tests share:
// the element's own session editing running, the three users of the
// three roles, an SSH host key, and RFC 8341 rules of the viewers' rule
// list that deny a read or an operation, as an operator would configure
// them in ietf-netconf-acm.
package testelem

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
)

// System is the element's own session: NACM does not apply to it.
var System = &server.Session{User: "system", Role: server.RoleAdmin, Transport: "system"}

// ViewerList is the rule list of the viewer group the rules go to.
const ViewerList = "05-viewers"

// Edit commits what edit changes to running, as System; the test fails
// when the commit does.
func Edit(t testing.TB, core *server.Server, edit func(root *gen.Device)) {
	t.Helper()
	if err := core.Edit(System, server.Running, func(root *gen.Device) error { edit(root); return nil }); err != nil {
		t.Fatal(err)
	}
}

// AddUsers adds the users admin, oper and view, of the roles admin,
// operator and viewer, with the given passwords.
func AddUsers(root *gen.Device, admin, oper, view string) {
	users := root.GetOrCreateSystem().GetOrCreateAaa().GetOrCreateUsers()
	for _, u := range []struct {
		name, password string
		role           gen.E_WirebeatSystem_UserRole
	}{
		{"admin", admin, gen.WirebeatSystem_UserRole_admin},
		{"oper", oper, gen.WirebeatSystem_UserRole_operator},
		{"view", view, gen.WirebeatSystem_UserRole_viewer},
	} {
		e := users.GetOrCreateUser(u.name)
		e.Password = ygot.String(u.password)
		e.Role = u.role
	}
}

// HostKey is a new SSH host key.
func HostKey(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// viewerRule returns the rule name of the viewers' list, made with the
// list when missing.
func viewerRule(root *gen.Device, name string) *gen.IETFNetconfAcm_Nacm_RuleList_Rule {
	rl := root.GetOrCreateNacm().GetOrCreateRuleList(ViewerList)
	rl.Group = []string{"viewer"}
	return rl.GetOrCreateRule(name)
}

// DenyRead adds the rule name that denies viewers reading the data node
// at path (and below).
func DenyRead(root *gen.Device, name, path string) {
	r := viewerRule(root, name)
	r.Path = ygot.String(path)
	r.AccessOperations = ygot.String("read")
	r.Action = gen.IETFNetconfAcm_ActionType_deny
}

// DenyRPC adds the rule name that denies viewers the operation rpc of
// module.
func DenyRPC(root *gen.Device, name, module, rpc string) {
	r := viewerRule(root, name)
	r.ModuleName = ygot.String(module)
	r.RpcName = ygot.String(rpc)
	r.AccessOperations = ygot.String("exec")
	r.Action = gen.IETFNetconfAcm_ActionType_deny
}
