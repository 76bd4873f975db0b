// Package testnacm sets up RFC 8341 access rules for the front ends'
// tests: the element's own session edits running, and rules of the
// viewers' rule list deny a read or an operation, as an operator would
// configure them in ietf-netconf-acm.
package testnacm

import (
	"testing"

	"github.com/openconfig/ygot/ygot"

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
