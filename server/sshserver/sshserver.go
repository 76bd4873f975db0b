// Package sshserver owns what the SSH front ends of the element (NETCONF
// and the CLI) share about SSH: the host key, password and public-key
// authentication against /system/aaa/users, the delay after a failed login
// and how the authenticated user and role travel with the connection.
//
// One place for it means a user, key or delay change reaches both front ends
// at once; each front end only decides what to do with its channels.
package sshserver

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/server"
)

// DefaultLoginDelay is how long a failed login waits before its answer:
// slow for a guesser, unnoticed by a person. The core applies it
// (server.Limits.LoginDelay) to the logins of every front end.
const DefaultLoginDelay = server.DefaultLoginDelay

// Authenticator checks credentials; *server.Server implements it. Its
// checks pass the core's authentication gate: a bound on concurrent hash
// checks shared with gNMI, a lockout of sources that keep failing, the
// delay after a failure, bounded logging of unauthenticated names.
type Authenticator interface {
	Login(ctx context.Context, transport, source, name, password string) (*server.User, error)
	LoginKey(transport, source, name string, key ssh.PublicKey) (*server.User, error)
}

// Options configure Config.
type Options struct {
	HostKey ssh.Signer
	// Transport names the front end in logs ("netconf", "cli").
	Transport string
	// LoginDelay is not used any more: the core's Limits.LoginDelay
	// delays failed logins of every front end.
	LoginDelay time.Duration
	Logger     *slog.Logger
}

// Config returns the SSH server configuration both front ends use: users
// and roles from the running configuration, logins through the core's
// gate, the element's host key, and only algorithms without known
// weaknesses (server.SecureSSH).
func Config(core Authenticator, opts Options) *ssh.ServerConfig {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Transport == "" {
		opts.Transport = "ssh"
	}
	result := func(u *server.User, err error) (*ssh.Permissions, error) {
		if err != nil {
			return nil, err
		}
		return &ssh.Permissions{Extensions: map[string]string{"role": u.Role.String(), "user": u.Name}}, nil
	}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			return result(core.Login(context.Background(), opts.Transport, c.RemoteAddr().String(), c.User(), string(pw)))
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			// Clients offer keys one by one before a password: a key
			// that does not fit is not a failed login.
			return result(core.LoginKey(opts.Transport, c.RemoteAddr().String(), c.User(), key))
		},
		ServerVersion: "SSH-2.0-wirebeat",
	}
	server.SecureSSH(cfg)
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
