package sshserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Listeners is the life of an SSH front end's listeners and connections:
// it serves any number of listeners, counts the goroutines of their
// connections, and closes once, ending the front end's sessions and
// waiting for every goroutine. The zero value is open and ready.
//
// The front end keeps its session table under its own lock and
// registers a session only while Closed reports false under that lock;
// Close marks the front end closed before it takes that lock to end the
// sessions, so none registered is missed and none registers after.
type Listeners struct {
	mu     sync.Mutex
	closed bool
	lns    []net.Listener
	wg     sync.WaitGroup
}

// Serve accepts connections on ln and hands each to serve in its own
// goroutine, until ctx ends or the front end closes; when ctx ends it
// calls closeFront, the front end's Close. It returns nil when the front
// end closed ln (the normal end), net.ErrClosed when it had closed
// before, keeps going over temporary accept timeouts, and returns any
// other accept error.
func (l *Listeners) Serve(ctx context.Context, ln net.Listener, closeFront func() error, serve func(net.Conn)) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return net.ErrClosed
	}
	l.lns = append(l.lns, ln)
	l.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = closeFront() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if l.Closed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		l.Go(func() { serve(conn) })
	}
}

// Go runs fn in a goroutine that Close waits for. Only a goroutine Close
// already waits for (a connection's, a session's) may call it once
// Close can have started.
func (l *Listeners) Go(fn func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn()
	}()
}

// Closed reports whether Close has begun.
func (l *Listeners) Closed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Close marks the front end closed, closes its listeners, calls
// endSessions (which ends every registered session) and waits for every
// goroutine of Serve and Go. It reports whether this call closed: only
// the first does anything.
func (l *Listeners) Close(endSessions func()) bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.closed = true
	lns := l.lns
	l.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	endSessions()
	l.wg.Wait()
	return true
}

// Handshake runs the SSH handshake (and so the login) on conn within
// timeout and discards the connection's global requests; it returns nil
// when the handshake failed, logged at debug level (a scanner or a wrong
// password is no event).
func Handshake(conn net.Conn, cfg *ssh.ServerConfig, timeout time.Duration, log *slog.Logger) (*ssh.ServerConn, <-chan ssh.NewChannel) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		log.Debug("ssh handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
		return nil, nil
	}
	_ = conn.SetDeadline(time.Time{})
	go ssh.DiscardRequests(reqs)
	return sc, chans
}

// AcceptSessions accepts the session channels of a connection, rejects
// channels of any other type, and hands each accepted channel with its
// requests to fn, until the connection ends or an accept fails.
func AcceptSessions(chans <-chan ssh.NewChannel, fn func(ch ssh.Channel, reqs <-chan *ssh.Request)) {
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, reqs, err := nc.Accept()
		if err != nil {
			return
		}
		fn(ch, reqs)
	}
}
