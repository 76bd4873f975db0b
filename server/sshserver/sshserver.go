// Package sshserver owns what the SSH front ends of the element (NETCONF
// and the CLI) share about SSH: the host key, password and public-key
// authentication against /system/aaa/users, the delay after a failed login
// and how the authenticated user and role travel with the connection.
//
// One place for it means a user, key or delay change reaches both front ends
// at once; each front end only decides what to do with its channels.
package sshserver

import (
	"log/slog"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/server"
)

// DefaultLoginDelay is how long a failed login waits before its answer:
// slow for a guesser, unnoticed by a person.
const DefaultLoginDelay = time.Second

// Authenticator checks credentials; *server.Server implements it.
type Authenticator interface {
	Authenticate(name, password string) (*server.User, error)
	AuthenticateKey(name string, key ssh.PublicKey) (*server.User, error)
}

// Options configure Config.
type Options struct {
	HostKey ssh.Signer
	// LoginDelay delays the answer to a failed login (default
	// DefaultLoginDelay; negative: none, for tests).
	LoginDelay time.Duration
	Logger     *slog.Logger
}

// Config returns the SSH server configuration both front ends use: users
// and roles from the running configuration, failed logins logged and
// delayed, the element's host key.
func Config(core Authenticator, opts Options) *ssh.ServerConfig {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	delay := opts.LoginDelay
	if delay == 0 {
		delay = DefaultLoginDelay
	}
	result := func(c ssh.ConnMetadata, method string, u *server.User, err error) (*ssh.Permissions, error) {
		if err != nil {
			opts.Logger.Warn("login failed", "user", c.User(), "method", method, "remote", c.RemoteAddr().String())
			if delay > 0 {
				time.Sleep(delay)
			}
			return nil, err
		}
		return &ssh.Permissions{Extensions: map[string]string{"role": u.Role.String(), "user": u.Name}}, nil
	}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			u, err := core.Authenticate(c.User(), string(pw))
			return result(c, "password", u, err)
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			u, err := core.AuthenticateKey(c.User(), key)
			if err != nil {
				// Clients offer keys one by one before a password:
				// a key that does not fit is not a failed login.
				return nil, err
			}
			return result(c, "publickey", u, nil)
		},
		ServerVersion: "SSH-2.0-wirebeat",
	}
	if opts.HostKey != nil {
		cfg.AddHostKey(opts.HostKey)
	}
	return cfg
}

// UserOf returns the user and role an authenticated connection carries.
func UserOf(p *ssh.Permissions) (string, server.Role) {
	if p == nil {
		return "", server.RoleViewer
	}
	return p.Extensions["user"], RoleFromString(p.Extensions["role"])
}

// RoleFromString parses a role name; anything unknown is the least
// privileged role.
func RoleFromString(r string) server.Role {
	switch r {
	case "admin":
		return server.RoleAdmin
	case "operator":
		return server.RoleOperator
	}
	return server.RoleViewer
}
