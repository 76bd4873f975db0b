package server

// NACM (RFC 8341) in the core: the /nacm configuration of running decides
// every access by a session, whatever the front end. Writes are checked
// per changed path of the commit's change list, reads by pruning denied
// subtrees from the tree a front end renders, protocol operations by name
// before they run, notifications before they are queued.
//
// The roles of /system/aaa/users stay the source of who is what: a group
// named like a role (admin, operator, viewer) holds that role's users
// implicitly, and the rule lists of implicitRuleLists follow the
// configured ones, unless a configured list of the same name replaces
// one. They reproduce the role rules the element had before NACM.

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// Access is a set of RFC 8341 access operations.
type Access uint8

// The access operations of RFC 8341 section 2.3.
const (
	AccessCreate Access = 1 << iota
	AccessRead
	AccessUpdate
	AccessDelete
	AccessExec

	accessAll   = AccessCreate | AccessRead | AccessUpdate | AccessDelete | AccessExec
	accessWrite = AccessCreate | AccessUpdate | AccessDelete
)

func (a Access) String() string {
	var names []string
	for i, n := range []string{"create", "read", "update", "delete", "exec"} {
		if a&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, " ")
}

// parseAccess reads an access-operations value: "*" or names.
func parseAccess(s string) (Access, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "*" {
		return accessAll, nil
	}
	var a Access
	for _, f := range strings.Fields(s) {
		switch f {
		case "create":
			a |= AccessCreate
		case "read":
			a |= AccessRead
		case "update":
			a |= AccessUpdate
		case "delete":
			a |= AccessDelete
		case "exec":
			a |= AccessExec
		default:
			return 0, fmt.Errorf("unknown access operation %q", f)
		}
	}
	return a, nil
}

type ruleKind uint8

const (
	ruleAny ruleKind = iota // no rule-type: the whole module
	ruleRPC
	ruleNotification
	rulePath
)

type nacmRule struct {
	list, name string
	module     string // "*" for any
	kind       ruleKind
	name2      string          // rpc-name or notification-name ("*" for any)
	path       []*gpb.PathElem // for rulePath; keys absent match any entry
	ops        Access
	permit     bool
}

type nacmList struct {
	name   string
	groups []string
	rules  []*nacmRule
}

// nacmPolicy is /nacm of one running tree, compiled.
type nacmPolicy struct {
	enabled                 bool
	readPermit, writePermit bool
	execPermit              bool
	members                 map[string][]string // user -> configured groups
	lists                   []*nacmList
}

// implicitRuleLists are the rules of the roles: administrators may do
// everything; operators may write the engines' configuration (everything
// but /system and /nacm); viewers may read but not lock or discard the
// shared candidate. The write default (deny) does the rest.
func implicitRuleLists() []*nacmList {
	writes := func(module string) *nacmRule {
		return &nacmRule{list: "operator", name: "write-" + strings.TrimPrefix(module, "wirebeat-"), module: module, ops: accessWrite, permit: true}
	}
	return []*nacmList{
		{name: "admin", groups: []string{"admin"}, rules: []*nacmRule{
			{list: "admin", name: "permit-all", module: "*", ops: accessAll, permit: true},
		}},
		{name: "operator", groups: []string{"operator"}, rules: []*nacmRule{
			writes("wirebeat-bfd"), writes("wirebeat-softwire"), writes("wirebeat-sfc"),
		}},
		{name: "viewer", groups: []string{"viewer"}, rules: []*nacmRule{
			{list: "viewer", name: "deny-lock", module: "ietf-netconf", kind: ruleRPC, name2: "lock", ops: AccessExec},
			{list: "viewer", name: "deny-discard", module: "ietf-netconf", kind: ruleRPC, name2: "discard-changes", ops: AccessExec},
		}},
	}
}

// defaultDenyAll are the nodes and operations RFC 8341 section 3.4.4
// (nacm:default-deny-all) keeps from everyone no rule explicitly permits:
// the users' password hashes, kill-session.
var (
	defaultDenyPaths = [][]*gpb.PathElem{
		{{Name: "system"}, {Name: "aaa"}, {Name: "users"}, {Name: "user"}, {Name: "password"}},
	}
	defaultDenyRPCs = map[string]bool{"kill-session": true}
)

// compileNACM builds the policy of a running tree. Rules that cannot be
// parsed deny (fail closed); validation refuses them before they commit.
func compileNACM(root *gen.Device) (*nacmPolicy, error) {
	n := root.GetNacm()
	p := &nacmPolicy{
		enabled:     n == nil || n.EnableNacm == nil || *n.EnableNacm,
		readPermit:  n.GetReadDefault() != gen.IETFNetconfAcm_ActionType_deny,
		writePermit: n != nil && n.GetWriteDefault() == gen.IETFNetconfAcm_ActionType_permit,
		execPermit:  n.GetExecDefault() != gen.IETFNetconfAcm_ActionType_deny,
		members:     map[string][]string{},
	}
	if n == nil {
		p.lists = implicitRuleLists()
		return p, nil
	}
	for name, g := range groupsOfNACM(n) {
		for _, u := range g.UserName {
			p.members[u] = append(p.members[u], name)
		}
	}
	names := make([]string, 0, len(n.RuleList))
	for name := range n.RuleList {
		names = append(names, name)
	}
	sort.Strings(names)
	var firstErr error
	for _, name := range names {
		rl := n.RuleList[name]
		l := &nacmList{name: name, groups: rl.Group}
		rnames := make([]string, 0, len(rl.Rule))
		for rn := range rl.Rule {
			rnames = append(rnames, rn)
		}
		sort.Strings(rnames)
		for _, rn := range rnames {
			r, err := compileRule(name, rl.Rule[rn])
			if err != nil {
				firstErr = cmpErr(firstErr, schema.Errorf(schema.TagInvalidValue, nacmRulePath(name, rn), "%v", err))
				r = &nacmRule{list: name, name: rn, module: "*", ops: accessAll}
			}
			l.rules = append(l.rules, r)
		}
		p.lists = append(p.lists, l)
	}
	for _, l := range implicitRuleLists() {
		if _, ok := n.RuleList[l.name]; !ok {
			p.lists = append(p.lists, l)
		}
	}
	return p, firstErr
}

func nacmRulePath(list, rule string) *gpb.Path {
	return &gpb.Path{Elem: []*gpb.PathElem{{Name: "nacm"}, {Name: "rule-list", Key: map[string]string{"name": list}},
		{Name: "rule", Key: map[string]string{"name": rule}}}}
}

// validateNACM refuses a configuration whose rules cannot be used (a
// path that names nothing, an unknown access operation).
func validateNACM(cfg, old *gen.Device) error {
	if cfg.GetNacm() == old.GetNacm() {
		return nil
	}
	_, err := compileNACM(cfg)
	return err
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func compileRule(list string, r *gen.IETFNetconfAcm_Nacm_RuleList_Rule) (*nacmRule, error) {
	out := &nacmRule{list: list, name: r.GetName(), module: "*", permit: r.Action == gen.IETFNetconfAcm_ActionType_permit}
	if r.ModuleName != nil {
		out.module = *r.ModuleName
	}
	ops, err := parseAccess(r.GetAccessOperations())
	if err != nil {
		return nil, fmt.Errorf("rule %s/%s: %w", list, r.GetName(), err)
	}
	out.ops = ops
	switch {
	case r.RpcName != nil:
		out.kind, out.name2 = ruleRPC, *r.RpcName
	case r.NotificationName != nil:
		out.kind, out.name2 = ruleNotification, *r.NotificationName
	case r.Path != nil:
		out.kind = rulePath
		out.path, err = parseNACMPath(*r.Path)
		if err != nil {
			return nil, fmt.Errorf("rule %s/%s: %w", list, r.GetName(), err)
		}
	}
	return out, nil
}

// parseNACMPath reads a node-instance-identifier: /a/b[k='v']/c, each
// name optionally prefixed, predicates only on list keys. "/" is every
// node.
func parseNACMPath(s string) ([]*gpb.PathElem, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("path %q is not absolute", s)
	}
	var out []*gpb.PathElem
	i := 1
	for i < len(s) {
		j := i
		for j < len(s) && s[j] != '/' && s[j] != '[' {
			j++
		}
		name := s[i:j]
		if k := strings.IndexByte(name, ':'); k >= 0 {
			name = name[k+1:]
		}
		if name == "" {
			return nil, fmt.Errorf("path %q has an empty step", s)
		}
		e := &gpb.PathElem{Name: name}
		for j < len(s) && s[j] == '[' {
			end := j + 1
			quote := byte(0)
			for end < len(s) && (quote != 0 || s[end] != ']') {
				switch {
				case quote != 0 && s[end] == quote:
					quote = 0
				case quote == 0 && (s[end] == '\'' || s[end] == '"'):
					quote = s[end]
				}
				end++
			}
			if end >= len(s) {
				return nil, fmt.Errorf("path %q: unterminated predicate", s)
			}
			pred := s[j+1 : end]
			eq := strings.IndexByte(pred, '=')
			if eq < 0 {
				return nil, fmt.Errorf("path %q: predicate %q is not key=value", s, pred)
			}
			k := strings.TrimSpace(pred[:eq])
			if c := strings.IndexByte(k, ':'); c >= 0 {
				k = k[c+1:]
			}
			v := strings.TrimSpace(pred[eq+1:])
			if len(v) < 2 || (v[0] != '\'' && v[0] != '"') || v[len(v)-1] != v[0] {
				return nil, fmt.Errorf("path %q: key value %q is not quoted", s, v)
			}
			if e.Key == nil {
				e.Key = map[string]string{}
			}
			e.Key[k] = v[1 : len(v)-1]
			j = end + 1
		}
		out = append(out, e)
		if j < len(s) && s[j] != '/' {
			return nil, fmt.Errorf("path %q: unexpected %q", s, s[j])
		}
		i = j + 1
	}
	if len(out) > 0 {
		if err := schema.CheckPath(out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// topModules maps a top-level node to the module that defines it.
var topModules = func() map[string]string {
	m := map[string]string{}
	t := reflect.TypeOf(gen.Device{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if p, mod := f.Tag.Get("path"), f.Tag.Get("module"); p != "" && mod != "" {
			m[p] = mod
		}
	}
	return m
}()

// nacmCache holds the policy compiled from one /nacm container.
type nacmCache struct {
	mu     sync.Mutex
	from   *gen.IETFNetconfAcm_Nacm
	valid  bool
	policy *nacmPolicy
}

func (s *Server) policy() *nacmPolicy {
	n := s.running.Load().GetNacm()
	s.nacm.mu.Lock()
	defer s.nacm.mu.Unlock()
	if s.nacm.valid && s.nacm.from == n {
		return s.nacm.policy
	}
	p, err := compileNACM(&gen.Device{Nacm: n})
	if err != nil {
		s.log.Warn("nacm: rule not usable, it denies", "err", err)
	}
	s.nacm.from, s.nacm.valid, s.nacm.policy = n, true, p
	return p
}

// groupsOf returns the groups of sess: its role's and the configured ones.
func (p *nacmPolicy) groupsOf(sess *Session) []string {
	return append([]string{sess.Role.String()}, p.members[sess.User]...)
}

// lists returns the rule lists that apply to sess, in order.
func (p *nacmPolicy) listsFor(sess *Session) []*nacmList {
	groups := p.groupsOf(sess)
	var out []*nacmList
	for _, l := range p.lists {
		for _, g := range l.groups {
			if g == "*" || contains(groups, g) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// bypass reports whether sess is not subject to NACM: the element's own
// session (boot, confirmed-commit timeouts), RFC 8341's recovery session.
func bypass(sess *Session) bool {
	return sess == nil || (sess.ID == 0 && sess.Transport == "system")
}

// decision is the outcome of a check and the rule that made it.
type decision struct {
	permit bool
	rule   *nacmRule // nil when a default decided
}

func (d decision) String() string {
	if d.rule == nil {
		return "no rule permits it"
	}
	return "by rule-list " + d.rule.list + " rule " + d.rule.name
}

// pathCovers reports whether rule path r covers node path p: r is a
// prefix of p and every key r gives is p's.
func pathCovers(r, p []*gpb.PathElem) bool {
	if len(r) > len(p) {
		return false
	}
	for i, e := range r {
		if e.Name != p[i].Name {
			return false
		}
		for k, v := range e.Key {
			if p[i].Key[k] != v {
				return false
			}
		}
	}
	return true
}

func moduleOfPath(p []*gpb.PathElem) string {
	if len(p) == 0 {
		return ""
	}
	return topModules[p[0].Name]
}

// decideData decides access a to the data node at path p for sess.
func (p *nacmPolicy) decideData(sess *Session, a Access, path []*gpb.PathElem) decision {
	module := moduleOfPath(path)
	for _, l := range p.listsFor(sess) {
		for _, r := range l.rules {
			if r.ops&a == 0 || (r.module != "*" && r.module != module) {
				continue
			}
			switch r.kind {
			case ruleAny:
			case rulePath:
				if !pathCovers(r.path, path) {
					continue
				}
			default:
				continue
			}
			return decision{permit: r.permit, rule: r}
		}
	}
	for _, d := range defaultDenyPaths {
		if pathCovers(d, path) {
			return decision{}
		}
	}
	if a == AccessRead {
		return decision{permit: p.readPermit}
	}
	return decision{permit: p.writePermit}
}

// decideNamed decides exec of an operation or the receipt of a
// notification (kind ruleRPC or ruleNotification).
func (p *nacmPolicy) decideNamed(sess *Session, kind ruleKind, module, name string) decision {
	a := AccessExec
	if kind == ruleNotification {
		a = AccessRead
	}
	for _, l := range p.listsFor(sess) {
		for _, r := range l.rules {
			if r.ops&a == 0 || (r.module != "*" && r.module != module) {
				continue
			}
			if r.kind != ruleAny && (r.kind != kind || (r.name2 != "*" && r.name2 != name)) {
				continue
			}
			return decision{permit: r.permit, rule: r}
		}
	}
	if kind == ruleRPC && defaultDenyRPCs[name] {
		return decision{}
	}
	if kind == ruleNotification {
		return decision{permit: p.readPermit}
	}
	return decision{permit: p.execPermit}
}

// Exec checks that sess may run protocol operation name of module
// (RFC 8341 section 3.4.4). Front ends call it before running an
// operation; a denial is counted in denied-operations and logged.
// close-session is always permitted.
func (s *Server) Exec(sess *Session, module, name string) error {
	if bypass(sess) || name == "close-session" {
		return nil
	}
	p := s.policy()
	if !p.enabled {
		return nil
	}
	d := p.decideNamed(sess, ruleRPC, module, name)
	if d.permit {
		return nil
	}
	return s.deniedOp(sess, name, schema.Errorf(schema.TagAccessDenied, nil, "operation %s denied to %s: %s", name, sess.User, d))
}

// NotificationPermitted reports whether sess may receive notification
// name of module; a withheld one is counted in denied-notifications.
func (s *Server) NotificationPermitted(sess *Session, module, name string) bool {
	if bypass(sess) {
		return true
	}
	p := s.policy()
	if !p.enabled || p.decideNamed(sess, ruleNotification, module, name).permit {
		return true
	}
	s.deniedNotifs.Add(1)
	return false
}

// authorize checks with NACM that sess may make the change from base to
// work: create, update or delete on each changed path of the change list.
// The first denied change is the error, with its path.
func (s *Server) authorize(sess *Session, base, work *gen.Device, touched *schema.Touched) error {
	if bypass(sess) {
		return nil
	}
	p := s.policy()
	if !p.enabled || p.writesUniformlyPermitted(sess) {
		return nil
	}
	for _, ch := range schema.Changes(base, work, touched) {
		a := AccessUpdate
		switch ch.Op {
		case schema.OpCreate:
			a = AccessCreate
		case schema.OpDelete:
			a = AccessDelete
		}
		if d := p.decideData(sess, a, ch.Path.GetElem()); !d.permit {
			return schema.Errorf(schema.TagAccessDenied, ch.Path, "%s access denied to %s: %s", a, sess.User, d)
		}
		// A list entry created or deleted as a whole creates or deletes
		// every node in it (RFC 8341 section 3.4.5): a rule denying that
		// on a node below decides too.
		if a == AccessCreate || a == AccessDelete {
			tree := work
			if a == AccessDelete {
				tree = base
			}
			if path, d := p.deniedBelow(sess, a, tree, ch.Path.GetElem()); path != nil {
				return schema.Errorf(schema.TagAccessDenied, &gpb.Path{Elem: path}, "%s access denied to %s: %s", a, sess.User, d)
			}
		}
	}
	return nil
}

// deniedBelow returns a node of tree below at that a rule denies sess
// access a to, and the decision; nil when there is none.
func (p *nacmPolicy) deniedBelow(sess *Session, a Access, tree *gen.Device, at []*gpb.PathElem) ([]*gpb.PathElem, decision) {
	for _, l := range p.listsFor(sess) {
		for _, r := range l.rules {
			if r.permit || r.kind != rulePath || r.ops&a == 0 || len(r.path) <= len(at) || !pathCovers(r.path[:len(at)], at) {
				continue
			}
			full := append(append([]*gpb.PathElem{}, at...), r.path[len(at):]...)
			ms, err := schema.MatchPath(tree, full)
			if err != nil {
				continue
			}
			for _, m := range ms {
				if d := p.decideData(sess, a, m.Path); !d.permit {
					return m.Path, d
				}
			}
		}
	}
	return nil, decision{}
}

// writesUniformlyPermitted reports whether every write of sess is
// permitted whatever its path (an administrator's permit-all), so that
// the check needs no change list.
func (p *nacmPolicy) writesUniformlyPermitted(sess *Session) bool {
	for _, l := range p.listsFor(sess) {
		for _, r := range l.rules {
			if r.ops&accessWrite == 0 || r.kind == ruleRPC || r.kind == ruleNotification {
				continue
			}
			return r.permit && r.kind == ruleAny && r.module == "*" && r.ops&accessWrite == accessWrite
		}
	}
	return false
}

// MayWrite reports whether any write of sess could be permitted: a rule
// permitting a write comes before any rule denying all writes, or the
// write default permits. A front end that opens an editing mode (the
// CLI's configure) asks it, so that a user no rule lets write is told at
// once; every commit is still decided path by path.
func (s *Server) MayWrite(sess *Session) bool {
	if bypass(sess) {
		return true
	}
	p := s.policy()
	if !p.enabled {
		return true
	}
	for _, l := range p.listsFor(sess) {
		for _, r := range l.rules {
			if r.ops&accessWrite == 0 || r.kind == ruleRPC || r.kind == ruleNotification {
				continue
			}
			if r.permit {
				return true
			}
			if r.kind == ruleAny && r.module == "*" && r.ops&accessWrite == accessWrite {
				return false
			}
		}
	}
	return p.writePermit
}

// NACMState fills the counters of /nacm.
func (s *Server) nacmState(root *gen.Device) {
	n := root.GetOrCreateNacm()
	ops, writes, notifs := uint32(s.deniedOps.Load()), uint32(s.deniedWrites.Load()), uint32(s.deniedNotifs.Load())
	n.DeniedOperations, n.DeniedDataWrites, n.DeniedNotifications = &ops, &writes, &notifs
}

func groupsOfNACM(n *gen.IETFNetconfAcm_Nacm) map[string]*gen.IETFNetconfAcm_Nacm_Groups_Group {
	if g := n.GetGroups(); g != nil {
		return g.Group
	}
	return nil
}

// Readable returns what sess may read of root (RFC 8341 section 3.4.5):
// the same tree without the subtrees the rules deny it, by default the
// users' password hashes for all but administrators. root is not
// modified: the copy shares every node but those on the way to what was
// left out. Every front end renders reads from this tree.
func (s *Server) Readable(sess *Session, root *gen.Device) *gen.Device {
	if bypass(sess) || root == nil {
		return root
	}
	p := s.policy()
	if !p.enabled || p.readsUniformlyPermitted(sess) {
		return root
	}
	var tx *schema.Tx
	for _, cand := range p.readDenials(sess) {
		ms, err := schema.MatchPath(root, cand)
		if err != nil {
			continue
		}
		for _, m := range ms {
			if p.decideData(sess, AccessRead, m.Path).permit {
				continue
			}
			if tx == nil {
				tx = schema.NewTx(root)
			}
			if _, err := tx.Delete(&gpb.Path{Elem: m.Path}); err != nil {
				s.log.Warn("nacm: cannot leave out a denied node", "path", schema.PathString(&gpb.Path{Elem: m.Path}), "err", err)
			}
		}
	}
	if tx == nil {
		return root
	}
	return tx.Root()
}

// readsUniformlyPermitted reports whether sess may read everything (the
// administrators' permit-all comes before every read rule).
func (p *nacmPolicy) readsUniformlyPermitted(sess *Session) bool {
	for _, l := range p.listsFor(sess) {
		for _, r := range l.rules {
			if r.ops&AccessRead == 0 || r.kind == ruleRPC || r.kind == ruleNotification {
				continue
			}
			return r.permit && r.kind == ruleAny && r.module == "*"
		}
	}
	return false
}

// readDenials lists the paths where a read of sess may be denied: the
// paths of denying read rules, the top nodes of modules a rule denies
// or, with read-default deny, all of them, and the default-deny-all
// nodes. Each node they select is then decided on its own, so that an
// earlier permit still wins.
func (p *nacmPolicy) readDenials(sess *Session) [][]*gpb.PathElem {
	var out [][]*gpb.PathElem
	tops := func(module string) {
		for top, mod := range topModules {
			if module == "*" || module == mod {
				out = append(out, []*gpb.PathElem{{Name: top}})
			}
		}
	}
	if !p.readPermit {
		tops("*")
	}
	for _, l := range p.listsFor(sess) {
		for _, r := range l.rules {
			if r.permit || r.ops&AccessRead == 0 {
				continue
			}
			switch r.kind {
			case rulePath:
				if len(r.path) == 0 {
					tops("*")
				} else {
					out = append(out, r.path)
				}
			case ruleAny:
				tops(r.module)
			}
		}
	}
	return append(out, defaultDenyPaths...)
}

// EventPermitted is NotificationPermitted for a hub event: a YANG
// notification by its module and name, a configuration change as RFC
// 6470's netconf-config-change. Other kinds (state updates for gNMI) are
// reads, decided by Readable.
func (s *Server) EventPermitted(sess *Session, e *events.Event) bool {
	switch e.Kind {
	case events.Notification:
		return s.NotificationPermitted(sess, e.Module, e.Name)
	case events.ConfigChange:
		return s.NotificationPermitted(sess, "ietf-netconf-notifications", "netconf-config-change")
	}
	return true
}

// ReadPermitted reports whether sess may read the data node at path, for
// front ends that send a node without rendering a tree (a change pushed to
// a subscriber, a deleted node's path).
func (s *Server) ReadPermitted(sess *Session, path []*gpb.PathElem) bool {
	if bypass(sess) {
		return true
	}
	p := s.policy()
	return !p.enabled || p.readsUniformlyPermitted(sess) || p.decideData(sess, AccessRead, path).permit
}
