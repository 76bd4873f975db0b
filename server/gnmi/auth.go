package gnmi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

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

// serviceDesc is the gNMI service with every method, the unary ones too,
// served as a stream. A unary handler only runs once gRPC has read and
// decoded the whole request, so the credentials of a 100 MB Set would be
// checked after 100 MB were read; as a stream, the interceptor checks them
// from the headers alone and the request is read only for a user who
// logged in. On the wire nothing changes: unary clients see one request,
// one response.
func (g *Server) serviceDesc() *grpc.ServiceDesc {
	d := gpb.GNMI_ServiceDesc
	d.Methods = nil
	d.Streams = []grpc.StreamDesc{
		{StreamName: "Capabilities", Handler: unaryStream(g, g.Capabilities)},
		{StreamName: "Get", Handler: unaryStream(g, g.Get)},
		{StreamName: "Set", Handler: unaryStream(g, g.Set)},
		{StreamName: "Subscribe", Handler: g.subscribeStream, ServerStreams: true, ClientStreams: true},
	}
	return &d
}

// unaryStream serves a unary method from a stream: read the one request,
// check its paths, answer.
func unaryStream[Req any, PReq interface {
	*Req
	proto.Message
}, Resp proto.Message](g *Server, call func(context.Context, PReq) (Resp, error)) grpc.StreamHandler {
	return func(_ any, ss grpc.ServerStream) error {
		in := PReq(new(Req))
		if err := ss.RecvMsg(in); err != nil {
			return err
		}
		if err := requestBounds(g.lim, in); err != nil {
			return err
		}
		out, err := call(ss.Context(), in)
		if err != nil {
			return err
		}
		return ss.SendMsg(out)
	}
}

// subscribeStream serves Subscribe within the user's subscription quota,
// every request's paths bounded.
func (g *Server) subscribeStream(_ any, ss grpc.ServerStream) error {
	release, err := g.srv.AcquireSubscription(sessionOf(ss.Context()))
	if err != nil {
		return status.Error(codes.ResourceExhausted, err.Error())
	}
	defer release()
	return g.Subscribe(&boundedSubscribe{ServerStream: ss, lim: g.lim})
}

type boundedSubscribe struct {
	grpc.ServerStream
	lim server.Limits
}

func (b *boundedSubscribe) Recv() (*gpb.SubscribeRequest, error) {
	m := new(gpb.SubscribeRequest)
	if err := b.RecvMsg(m); err != nil {
		return nil, err
	}
	if err := requestBounds(b.lim, m); err != nil {
		return nil, err
	}
	return m, nil
}

func (b *boundedSubscribe) Send(m *gpb.SubscribeResponse) error { return b.SendMsg(m) }

// streamAuth logs the RPC in from its metadata before any request byte is
// read, and ends it when the session is revoked (its user deleted or
// given another role).
func (g *Server) streamAuth(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	sess, err := g.login(ss.Context())
	if err != nil {
		return err
	}
	defer g.srv.CloseSession(sess)
	ctx, cancel := context.WithCancel(context.WithValue(ss.Context(), sessionKey{}, sess))
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	err = handler(srv, &sessionStream{ServerStream: ss, ctx: ctx})
	if why := sess.Revoked(); why != "" && why != "closed" {
		return status.Errorf(codes.PermissionDenied, "session ended: %s", why)
	}
	return err
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
		u, err := g.srv.Login(ctx, "gnmi", source(ctx), user, pass)
		if err != nil {
			if server.IsLoginRefused(err) {
				return nil, status.Error(codes.ResourceExhausted, err.Error())
			}
			return nil, status.Error(codes.Unauthenticated, "authentication failed")
		}
		g.auth.remember(g.srv, user, pass)
		role = u.Role
	}
	sess, err := g.srv.StartSession(user, role, "gnmi", source(ctx))
	if err != nil {
		return nil, status.Error(codes.ResourceExhausted, err.Error())
	}
	return sess, nil
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
