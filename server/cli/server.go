package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/server/sshserver"
)

// Options configure the CLI server.
type Options struct {
	HostKey ssh.Signer
	Logger  *slog.Logger
	// LoginDelay delays the answer to a failed login (default 1 s).
	LoginDelay time.Duration
	// MaxSessions bounds the open CLI sessions (default 100).
	MaxSessions int
	// ConfirmUnit is what one "minute" of commit confirmed lasts: a
	// minute, except in tests.
	ConfirmUnit time.Duration
	// HandshakeTimeout bounds the SSH handshake (default 60 s).
	HandshakeTimeout time.Duration
}

// Server serves the CLI over SSH for the element core.
type Server struct {
	core *server.Server
	opts Options
	log  *slog.Logger
	ssh  *ssh.ServerConfig

	front sshserver.Listeners

	mu       sync.Mutex
	sessions map[*session]struct{}
}

// New makes a CLI server.
func New(core *server.Server, opts Options) (*Server, error) {
	if opts.HostKey == nil {
		return nil, errors.New("cli: no host key")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 100
	}
	if opts.ConfirmUnit <= 0 {
		opts.ConfirmUnit = time.Minute
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 60 * time.Second
	}
	s := &Server{core: core, opts: opts, log: opts.Logger, sessions: map[*session]struct{}{}}
	s.ssh = sshserver.Config(core, sshserver.Options{HostKey: opts.HostKey, Transport: "cli", Logger: opts.Logger})
	return s, nil
}

// Serve accepts SSH connections on ln until ctx ends or Close is called.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.front.Serve(ctx, ln, s.Close, s.serveConn)
}

// Close stops accepting, ends every session and waits for them. (A commit
// still unconfirmed is rolled back when the element stops: server.Close.)
func (s *Server) Close() error {
	s.front.Close(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for sess := range s.sessions {
			sess.kill()
		}
	})
	return nil
}

// channelReq is what a client asked of a session channel before its shell
// or command starts.
type channelReq struct {
	pty           bool
	width, height int
	exec          string
	isExec        bool
}

func (s *Server) serveConn(conn net.Conn) {
	defer conn.Close()
	sc, chans := sshserver.Handshake(conn, s.ssh, s.opts.HandshakeTimeout, s.log)
	if sc == nil {
		return
	}
	defer sc.Close()
	sshserver.AcceptSessions(chans, func(ch ssh.Channel, creqs <-chan *ssh.Request) {
		s.front.Go(func() { s.serveChannel(sc, ch, creqs) })
	})
}

// serveChannel answers the requests of one session channel and runs the
// shell or the command it asks for.
func (s *Server) serveChannel(sc *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	var cr channelReq
	started := false
	var sess *session
	sizes := make(chan [2]int, 4)
	for req := range reqs {
		switch req.Type {
		case "pty-req":
			var p struct {
				Term       string
				Cols, Rows uint32
				W, H       uint32
				Modes      string
			}
			if err := ssh.Unmarshal(req.Payload, &p); err != nil || started {
				req.Reply(false, nil)
				continue
			}
			cr.pty, cr.width, cr.height = true, int(p.Cols), int(p.Rows)
			req.Reply(true, nil)
		case "window-change":
			var w struct{ Cols, Rows, W, H uint32 }
			if ssh.Unmarshal(req.Payload, &w) == nil {
				select {
				case sizes <- [2]int{int(w.Cols), int(w.Rows)}:
				default:
				}
			}
			if req.WantReply {
				req.Reply(true, nil)
			}
		case "env":
			req.Reply(true, nil)
		case "shell", "exec":
			if started {
				req.Reply(false, nil)
				continue
			}
			if req.Type == "exec" {
				var e struct{ Command string }
				if ssh.Unmarshal(req.Payload, &e) != nil {
					req.Reply(false, nil)
					continue
				}
				cr.exec, cr.isExec = e.Command, true
			}
			req.Reply(true, nil)
			started = true
			sess = s.newSession(sc, ch, cr, sizes)
			if sess == nil {
				ch.Close()
				continue
			}
			s.front.Go(sess.run)
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
	if sess != nil {
		sess.kill()
	}
}

// newSession registers a session of the connection's user, nil when the
// element is closing or full.
func (s *Server) newSession(sc *ssh.ServerConn, ch ssh.Channel, cr channelReq, sizes chan [2]int) *session {
	user, role := sshserver.UserOf(sc.Permissions)
	host, _, _ := net.SplitHostPort(sc.RemoteAddr().String())
	s.mu.Lock()
	defer s.mu.Unlock()
	if closed := s.front.Closed(); closed || len(s.sessions) >= s.opts.MaxSessions {
		if !closed {
			s.log.Warn("session refused: too many sessions", "user", user, "remote", host, "max", s.opts.MaxSessions)
			ch.Write([]byte("error: too many CLI sessions\r\n"))
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{1}))
		}
		return nil
	}
	// The core's limits: per user, with room kept for admins.
	core, err := s.core.StartSession(user, role, "cli", host)
	if err != nil {
		s.log.Warn("session refused", "user", server.BoundedName(user), "remote", host, "err", err)
		ch.Write([]byte("error: " + err.Error() + "\r\n"))
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{1}))
		return nil
	}
	sess := newSession(s, core, ch, cr, sizes)
	s.sessions[sess] = struct{}{}
	// A session whose user is deleted or given another role ends.
	go func() {
		<-core.Done()
		if core.Revoked() != "closed" {
			sess.kill()
		}
	}()
	return sess
}

func (s *Server) endSession(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	// A CLI commit confirmed outlives its session, as in Junos.
	s.core.CloseSession(sess.core)
}
