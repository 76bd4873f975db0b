package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/netip"
	"reflect"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/gen"
)

// bcryptCost is the work factor of stored password hashes: about 50 ms a
// check here, slow for a guesser, invisible to a person logging in.
const bcryptCost = 10

// isPasswordHash reports whether a password leaf already holds a hash the
// element accepts as stored (bcrypt in its three variants).
func isPasswordHash(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// HashPassword returns the stored form of a clear-text password.
func HashPassword(clear string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(clear), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// normalize rewrites a tree into the form datastores keep: clear-text
// passwords become hashes before the tree is stored anywhere, so that no
// read path can return them, and IPv6 addresses take their canonical RFC
// 5952 text so that one address is one list key.
//
// base is the tree root was edited from; its list entries are already in
// that form, and the equal ones are skipped.
func normalize(root, base *gen.Device) error {
	if err := hashPasswords(root); err != nil {
		return err
	}
	return canonicalizeAddresses(root, base)
}

func hashPasswords(root *gen.Device) error {
	for name, u := range usersOf(root) {
		if u.Password == nil || isPasswordHash(*u.Password) {
			continue
		}
		clear := strings.TrimPrefix(*u.Password, "$0$")
		if strings.HasPrefix(clear, "$") {
			return Errorf(TagInvalidValue, userPath(name, "password"),
				"unsupported password hash format; give clear text or a bcrypt hash ($2a$, $2b$, $2y$)")
		}
		if len(clear) > 72 {
			return Errorf(TagInvalidValue, userPath(name, "password"), "password longer than 72 bytes")
		}
		h, err := HashPassword(clear)
		if err != nil {
			return err
		}
		u.Password = &h
	}
	return nil
}

func userPath(name string, leaf ...string) *gpb.Path {
	p := &gpb.Path{Elem: []*gpb.PathElem{
		{Name: "system"}, {Name: "aaa"}, {Name: "users"},
		{Name: "user", Key: map[string]string{"name": name}},
	}}
	for _, l := range leaf {
		p.Elem = append(p.Elem, &gpb.PathElem{Name: l})
	}
	return p
}

// canonicalizeAddresses rewrites IPv6 address and prefix leaves to their
// canonical text, re-keying list entries whose key changed.
func canonicalizeAddresses(root, base *gen.Device) error {
	var rekey []reflect.Value // maps holding an entry whose key changed
	err := walk(rootSchema(), root, base, func(n *node) (bool, error) {
		if n.schema.ReadOnly() || ((n.schema.IsList() || n.schema.IsContainer()) && n.value.Kind() == reflect.Ptr && n.unchanged()) {
			return true, nil
		}
		if !(n.schema.IsLeaf() || n.schema.IsLeafList()) || isNil(n.value) || n.schema.Type == nil {
			return false, nil
		}
		switch n.schema.Type.Name {
		case "ipv6-address", "ip-address", "ipv6-prefix", "ip-prefix":
		default:
			return false, nil
		}
		changed := setStrings(n.value, canonicalAddr)
		if changed && n.schema.Parent != nil && n.schema.Parent.IsList() && isKeyOf(n.schema.Parent, n.schema.Name) {
			rekey = append(rekey, listMapOf(n))
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	for _, m := range rekey {
		if err := rekeyMap(m); err != nil {
			return err
		}
	}
	return nil
}

// canonicalAddr returns the RFC 5952 text of an IPv6 address or prefix; other
// strings come back unchanged (validation reports them later).
func canonicalAddr(s string) string {
	if strings.Contains(s, "/") {
		if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is6() && p.Addr().Zone() == "" {
			return p.String()
		}
		return s
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is6() && !a.Is4In6() && a.Zone() == "" {
		return a.String()
	}
	return s
}

// setStrings applies f to a string leaf (*string) or leaf-list ([]string)
// and reports whether any value changed.
func setStrings(v reflect.Value, f func(string) string) bool {
	changed := false
	switch {
	case v.Kind() == reflect.Ptr && v.Elem().Kind() == reflect.String:
		if s := v.Elem().String(); f(s) != s {
			v.Elem().SetString(f(s))
			changed = true
		}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		for i := 0; i < v.Len(); i++ {
			if s := v.Index(i).String(); f(s) != s {
				v.Index(i).SetString(f(s))
				changed = true
			}
		}
	}
	return changed
}

func isKeyOf(list *yang.Entry, leaf string) bool {
	for _, k := range strings.Fields(list.Key) {
		if k == leaf {
			return true
		}
	}
	return false
}

// listMapOf finds the map of the list whose entry holds leaf n: the field of
// the entry's parent struct that is a map containing this entry.
func listMapOf(n *node) reflect.Value {
	entry := n.parents[len(n.parents)-1]
	parent := n.parents[len(n.parents)-2].Elem()
	for i := 0; i < parent.NumField(); i++ {
		f := parent.Field(i)
		if f.Kind() != reflect.Map || f.Type().Elem() != entry.Type() {
			continue
		}
		return f
	}
	return reflect.Value{}
}

// rekeyMap moves every entry of a list map whose key no longer matches its
// key leaves under the right key. Two entries landing on one key are the
// same entry written twice: an error.
func rekeyMap(m reflect.Value) error {
	if !m.IsValid() {
		return nil
	}
	for _, k := range m.MapKeys() {
		entry := m.MapIndex(k)
		nk, err := keyOfEntry(entry, k.Type())
		if err != nil {
			return err
		}
		if nk.Interface() == k.Interface() {
			continue
		}
		if m.MapIndex(nk).IsValid() {
			return Errorf(TagDataExists, nil, "list entry %v is given twice (once as %v)", nk.Interface(), k.Interface())
		}
		m.SetMapIndex(k, reflect.Value{})
		m.SetMapIndex(nk, entry)
	}
	return nil
}

// keyOfEntry builds the map key of a generated list entry from its key
// leaves: the leaf itself for one key, the generated key struct for several.
func keyOfEntry(entry reflect.Value, keyType reflect.Type) (reflect.Value, error) {
	e := entry.Elem()
	field := func(name string) (reflect.Value, bool) {
		f := e.FieldByName(name)
		if !f.IsValid() {
			return f, false
		}
		if f.Kind() == reflect.Ptr {
			if f.IsNil() {
				return f, false
			}
			f = f.Elem()
		}
		return f, true
	}
	if keyType.Kind() == reflect.Struct {
		k := reflect.New(keyType).Elem()
		for i := 0; i < keyType.NumField(); i++ {
			f, ok := field(keyType.Field(i).Name)
			if !ok {
				return k, fmt.Errorf("list entry lacks key %s", keyType.Field(i).Name)
			}
			k.Field(i).Set(f.Convert(k.Field(i).Type()))
		}
		return k, nil
	}
	km, ok := entry.Interface().(interface {
		ΛListKeyMap() (map[string]any, error)
	})
	if !ok {
		return reflect.Value{}, fmt.Errorf("list entry %s has no key map", e.Type())
	}
	keys, err := km.ΛListKeyMap()
	if err != nil || len(keys) != 1 {
		return reflect.Value{}, fmt.Errorf("list entry %s: key map: %v", e.Type(), err)
	}
	for _, v := range keys {
		return reflect.ValueOf(v).Convert(keyType), nil
	}
	return reflect.Value{}, nil
}

// authorize enforces the roles on a change from base to work: viewers
// change nothing (checked before), operators change everything but /system.
func authorize(sess *Session, base, work *gen.Device) error {
	if sess.Role >= RoleAdmin {
		return nil
	}
	if sess.Role < RoleOperator {
		return Errorf(TagAccessDenied, nil, "role %s may not change the configuration", sess.Role)
	}
	edits, _ := diffConfig(&gen.Device{System: base.System}, &gen.Device{System: work.System}, 1)
	if len(edits) > 0 {
		return Errorf(TagAccessDenied, edits[0].Path, "role %s may not change system settings or users", sess.Role)
	}
	return nil
}

// User is an authenticated identity.
type User struct {
	Name string
	Role Role
}

// dummyHash equalizes the time of a login for an unknown user with that of
// a wrong password, so that timing does not reveal which users exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("wirebeat-no-such-user"), bcryptCost)

// Authenticate checks a user's password against the running configuration.
// The error never says whether the user exists. The hash check takes one
// of the element's few authentication slots (authgate.go), so that no
// flood of logins starves the process; front ends that know the client's
// address call Login, which adds the lockout and the delay.
func (s *Server) Authenticate(name, password string) (*User, error) {
	prio := 1
	if u := s.Running().GetSystem().GetAaa().GetUsers().GetUser(name); u != nil && u.Password != nil {
		prio = 0
	}
	if err := s.auth.acquire(context.Background(), prio); err != nil {
		return nil, err
	}
	defer s.auth.release()
	return s.checkPassword(name, password)
}

func (s *Server) checkPassword(name, password string) (*User, error) {
	u := s.Running().GetSystem().GetAaa().GetUsers().GetUser(name)
	if u == nil || u.Password == nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, Errorf(TagAccessDenied, nil, "authentication failed")
	}
	if bcrypt.CompareHashAndPassword([]byte(*u.Password), []byte(password)) != nil {
		return nil, Errorf(TagAccessDenied, nil, "authentication failed")
	}
	return &User{Name: name, Role: roleOf(u)}, nil
}

// AuthenticateKey checks that key is one of the user's authorized keys.
func (s *Server) AuthenticateKey(name string, key ssh.PublicKey) (*User, error) {
	u := s.Running().GetSystem().GetAaa().GetUsers().GetUser(name)
	if u == nil {
		return nil, Errorf(TagAccessDenied, nil, "authentication failed")
	}
	want := key.Marshal()
	for _, ak := range u.AuthorizedKey {
		if ak.Key == nil {
			continue
		}
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*ak.Key))
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare(pk.Marshal(), want) == 1 {
			return &User{Name: name, Role: roleOf(u)}, nil
		}
	}
	return nil, Errorf(TagAccessDenied, nil, "authentication failed")
}

func roleOf(u *gen.WirebeatSystem_System_Aaa_Users_User) Role {
	switch u.GetRole() {
	case gen.WirebeatSystem_UserRole_admin:
		return RoleAdmin
	case gen.WirebeatSystem_UserRole_operator:
		return RoleOperator
	}
	return RoleViewer
}

// usersOf returns the user list of a tree, nil-safe.
func usersOf(root *gen.Device) map[string]*gen.WirebeatSystem_System_Aaa_Users_User {
	if u := root.GetSystem().GetAaa().GetUsers(); u != nil {
		return u.User
	}
	return nil
}
