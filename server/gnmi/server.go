package gnmi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/wirebeat/wirebeat/server"
)

// Defaults of Options.
const (
	DefaultQueueLen            = 4096
	DefaultTargetDefinedSample = 10 * time.Second
	// MinSampleInterval is the shortest sample_interval accepted; a
	// request for 0 gets it, a shorter one is refused (specification
	// 3.5.1.5.2).
	MinSampleInterval = 10 * time.Millisecond
	maxMsgSize        = 256 << 20
)

// Options configure the gNMI front end.
type Options struct {
	// TLS is required: gNMI never runs in plaintext. Set ClientAuth and
	// ClientCAs for mutual TLS.
	TLS    *tls.Config
	Logger *slog.Logger
	// QueueLen bounds each subscriber's event queue on the hub.
	QueueLen int
	// TargetDefinedSample is the sample interval of counters under a
	// TARGET_DEFINED subscription.
	TargetDefinedSample time.Duration
}

// Server is the gNMI service of one element.
type Server struct {
	gpb.UnimplementedGNMIServer

	srv  *server.Server
	opts Options
	log  *slog.Logger
	grpc *grpc.Server
	auth *authCache
	lim  server.Limits

	mu     sync.Mutex
	closed bool
}

// New makes the gNMI front end of srv.
func New(srv *server.Server, opts Options) (*Server, error) {
	if opts.TLS == nil {
		return nil, errors.New("gNMI needs a TLS configuration: there is no plaintext mode")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = DefaultQueueLen
	}
	if opts.TargetDefinedSample <= 0 {
		opts.TargetDefinedSample = DefaultTargetDefinedSample
	}
	tlsCfg := opts.TLS.Clone()
	if tlsCfg.MinVersion < tls.VersionTLS12 {
		tlsCfg.MinVersion = tls.VersionTLS12
	}
	g := &Server{srv: srv, opts: opts, log: opts.Logger, auth: newAuthCache(), lim: srv.Limits()}
	g.grpc = grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsCfg)),
		// Every method is a stream (serviceDesc): this one interceptor
		// logs each RPC in before its request is read.
		grpc.StreamInterceptor(g.streamAuth),
		grpc.MaxRecvMsgSize(g.lim.MaxMessage),
		grpc.MaxSendMsgSize(maxMsgSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	g.grpc.RegisterService(g.serviceDesc(), g)
	return g, nil
}

// Serve accepts connections on ln until ctx ends or Close is called.
func (g *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { g.Close() })
	defer stop()
	err := g.grpc.Serve(ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gNMI: %w", err)
	}
	return nil
}

// Close stops listening and ends every RPC, subscriptions included.
func (g *Server) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	g.mu.Unlock()
	g.grpc.Stop()
	return nil
}
