package netconf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/server/sshserver"
)

// Options configure the NETCONF server.
type Options struct {
	HostKey ssh.Signer
	Logger  *slog.Logger
	// MaxMessage is the largest message accepted (default: the core's
	// Limits.MaxMessage); a larger one gets an error and the session
	// closes.
	MaxMessage int
	// LoginDelay is no longer used: the core's Limits.LoginDelay delays
	// failed logins of every front end.
	LoginDelay time.Duration
	// HelloTimeout bounds the SSH handshake (default: Limits.HelloTimeout,
	// which also bounds the wait for the NETCONF hello).
	HelloTimeout time.Duration
	// MaxSessions bounds the open NETCONF sessions (default:
	// Limits.MaxSessions, which with SessionsPerUser and AdminSessions
	// bounds the sessions of all front ends).
	MaxSessions int
	// YangDirs are searched for the texts of the IETF modules get-schema
	// serves (default DefaultYangDirs).
	YangDirs []string
	// DataDir is the element's data directory: :url file:// URLs name
	// files in DataDir/files (none: no :url), and the notification replay
	// log lives there.
	DataDir string
}

// Server serves NETCONF over SSH (RFC 6242) for the element core.
type Server struct {
	core  *server.Server
	si    *schemaInfo
	opts  Options
	log   *slog.Logger
	ssh   *ssh.ServerConfig
	start time.Time
	caps  []string
	// yangDirs is where the IETF module texts were looked for.
	yangDirs []string
	// replay is the notification history (nil without a data directory).
	replay *replayLog

	front sshserver.Listeners

	mu       sync.Mutex
	sessions map[uint32]*session

	confirm confirmState
	stats   stats
}

// stats are the global counters of ietf-netconf-monitoring.
type stats struct {
	inBadHellos, inSessions, droppedSessions atomic.Uint32
	inRPCs, inBadRPCs, outRPCErrors          atomic.Uint32
	outNotifications                         atomic.Uint32
}

// New makes a NETCONF server.
func New(core *server.Server, opts Options) (*Server, error) {
	if opts.HostKey == nil {
		return nil, errors.New("netconf: no host key")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// Unset bounds come from the element's one resource budget.
	lim := core.Limits()
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = lim.MaxMessage
	}
	if opts.LoginDelay == 0 {
		opts.LoginDelay = time.Second
	}
	if opts.HelloTimeout == 0 {
		opts.HelloTimeout = lim.HelloTimeout
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = lim.MaxSessions
	}
	si, err := loadSchema()
	if err != nil {
		return nil, fmt.Errorf("netconf: %w", err)
	}
	s := &Server{core: core, si: si, opts: opts, log: opts.Logger, start: time.Now(), sessions: map[uint32]*session{}}
	s.yangDirs = opts.YangDirs
	if len(s.yangDirs) == 0 {
		s.yangDirs = DefaultYangDirs
	}
	if opts.DataDir != "" {
		// Without its log the element still runs: create-subscription
		// then refuses startTime, saying why.
		if r, err := openReplayLog(opts.DataDir, s.log); err != nil {
			s.log.Warn("notification log unusable: no replay", "err", err)
		} else {
			s.replay = r
			go s.runReplayLog(r)
		}
	}
	if missing := si.buildLibrary(s.yangDirs, nmdaOps, opts.DataDir != "", s.replay != nil); len(missing) > 0 {
		s.log.Warn("YANG module texts not installed: listed in the YANG library, not served by get-schema",
			"modules", strings.Join(missing, " "), "searched", strings.Join(s.yangDirs, " "))
	}
	s.caps = s.capabilities()
	s.ssh = sshserver.Config(core, sshserver.Options{HostKey: opts.HostKey, Transport: "netconf", Logger: opts.Logger})
	return s, nil
}

// Serve accepts SSH connections on ln until ctx ends or Close is called.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.front.Serve(ctx, ln, s.Close, s.serveConn)
}

// Close stops accepting, ends every session and waits for them.
func (s *Server) Close() error {
	if s.front.Close(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, sess := range s.sessions {
			sess.kill()
		}
	}) {
		s.confirm.stop(s)
	}
	return nil
}

func (s *Server) serveConn(conn net.Conn) {
	defer conn.Close()
	sc, chans := sshserver.Handshake(conn, s.ssh, s.opts.HelloTimeout, s.log)
	if sc == nil {
		return
	}
	defer sc.Close()
	// A logged-in connection that starts no NETCONF session within the
	// hello timeout is closed: it would hold the element's resources
	// outside every session limit.
	var started atomic.Bool
	noSession := time.AfterFunc(s.core.Limits().HelloTimeout, func() {
		if !started.Load() {
			s.log.Info("connection closed: no session started", "remote", conn.RemoteAddr().String())
			sc.Close()
		}
	})
	defer noSession.Stop()
	sshserver.AcceptSessions(chans, func(ch ssh.Channel, creqs <-chan *ssh.Request) {
		// Wait for the subsystem request; anything else is refused.
		go func() {
			for req := range creqs {
				ok := req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == "netconf"
				req.Reply(ok, nil)
				if ok {
					started.Store(true)
					s.front.Go(func() {
						s.runSession(sc, ch)
						sc.Close()
					})
				} else if req.Type == "subsystem" || req.Type == "shell" || req.Type == "exec" {
					ch.Close()
				}
			}
		}()
	})
}

func roleFromString(r string) server.Role { return sshserver.RoleFromString(r) }
