package gnmi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
)

// Every RPC carries the username and password in its metadata
// (specification 3.1); they are checked against the users of the running
// configuration, and the RPC runs as a management session of that user.

type sessionKey struct{}

// sessionOf returns the session the interceptor opened for the RPC.
func sessionOf(ctx context.Context) *server.Session {
	s, _ := ctx.Value(sessionKey{}).(*server.Session)
	return s
}

func (g *Server) unaryAuth(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	sess, err := g.login(ctx)
	if err != nil {
		return nil, err
	}
	defer g.srv.CloseSession(sess)
	return handler(context.WithValue(ctx, sessionKey{}, sess), req)
}

func (g *Server) streamAuth(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	sess, err := g.login(ss.Context())
	if err != nil {
		return err
	}
	defer g.srv.CloseSession(sess)
	return handler(srv, &sessionStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), sessionKey{}, sess)})
}

type sessionStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *sessionStream) Context() context.Context { return s.ctx }

// login authenticates the RPC and opens its session. The status never
// says whether the user exists.
func (g *Server) login(ctx context.Context) (*server.Session, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	user, pass := first(md, "username"), first(md, "password")
	if user == "" || pass == "" {
		return nil, status.Error(codes.Unauthenticated, "username and password metadata required")
	}
	role, ok := g.auth.check(g.srv, user, pass)
	if !ok {
		u, err := g.srv.Authenticate(user, pass)
		if err != nil {
			g.log.Info("authentication failed", "user", user, "source", source(ctx))
			return nil, status.Error(codes.Unauthenticated, "authentication failed")
		}
		g.auth.remember(g.srv, user, pass)
		role = u.Role
	}
	return g.srv.OpenSession(user, role, "gnmi", source(ctx)), nil
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func source(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// authCache spares a bcrypt comparison (tens of milliseconds) on every
// RPC of a client that already logged in: it remembers a digest of the
// password that matched a stored hash, and holds only while that stored
// hash is unchanged, so a new password or a removed user ends it at once.
// The role is read from running on every RPC.
type authCache struct {
	mu      sync.Mutex
	entries map[string]authEntry
}

type authEntry struct {
	stored string // the bcrypt hash the password matched
	digest [32]byte
}

func newAuthCache() *authCache { return &authCache{entries: map[string]authEntry{}} }

func digest(user, pass string) [32]byte {
	return sha256.Sum256([]byte(user + "\x00" + pass))
}

func (c *authCache) check(srv *server.Server, user, pass string) (server.Role, bool) {
	u := srv.Running().GetSystem().GetAaa().GetUsers().GetUser(user)
	if u == nil || u.Password == nil {
		return 0, false
	}
	c.mu.Lock()
	e, ok := c.entries[user]
	c.mu.Unlock()
	d := digest(user, pass)
	if !ok || e.stored != *u.Password || subtle.ConstantTimeCompare(e.digest[:], d[:]) != 1 {
		return 0, false
	}
	return roleOf(u.GetRole()), true
}

func (c *authCache) remember(srv *server.Server, user, pass string) {
	u := srv.Running().GetSystem().GetAaa().GetUsers().GetUser(user)
	if u == nil || u.Password == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) > 1024 { // bounded: drop all rather than grow
		c.entries = map[string]authEntry{}
	}
	c.entries[user] = authEntry{stored: *u.Password, digest: digest(user, pass)}
}

func roleOf(r gen.E_WirebeatSystem_UserRole) server.Role {
	switch r {
	case gen.WirebeatSystem_UserRole_admin:
		return server.RoleAdmin
	case gen.WirebeatSystem_UserRole_operator:
		return server.RoleOperator
	}
	return server.RoleViewer
}
