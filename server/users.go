package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
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
func normalize(root, base *gen.Device, touched *schema.Touched) error {
	if err := hashPasswords(root); err != nil {
		return err
	}
	return schema.Canonicalize(root, base, touched)
}

func hashPasswords(root *gen.Device) error {
	for name, u := range usersOf(root) {
		if u.Password == nil || isPasswordHash(*u.Password) {
			continue
		}
		clear := strings.TrimPrefix(*u.Password, "$0$")
		if strings.HasPrefix(clear, "$") {
			return schema.Errorf(schema.TagInvalidValue, userPath(name, "password"),
				"unsupported password hash format; give clear text or a bcrypt hash ($2a$, $2b$, $2y$)")
		}
		if len(clear) > 72 {
			return schema.Errorf(schema.TagInvalidValue, userPath(name, "password"), "password longer than 72 bytes")
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
		return nil, schema.Errorf(schema.TagAccessDenied, nil, "authentication failed")
	}
	if bcrypt.CompareHashAndPassword([]byte(*u.Password), []byte(password)) != nil {
		return nil, schema.Errorf(schema.TagAccessDenied, nil, "authentication failed")
	}
	return &User{Name: name, Role: roleOf(u)}, nil
}

// AuthenticateKey checks that key is one of the user's authorized keys.
func (s *Server) AuthenticateKey(name string, key ssh.PublicKey) (*User, error) {
	u := s.Running().GetSystem().GetAaa().GetUsers().GetUser(name)
	if u == nil {
		return nil, schema.Errorf(schema.TagAccessDenied, nil, "authentication failed")
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
	return nil, schema.Errorf(schema.TagAccessDenied, nil, "authentication failed")
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
