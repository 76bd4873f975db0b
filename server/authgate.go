package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"
)

// The gate every password and key check of every front end passes:
//
//   - at most Limits.ConcurrentAuth bcrypt checks run at once, element
//     wide, and at most Limits.AuthQueue wait; logins for users that exist
//     go before logins for names that do not, so a flood of invented names
//     does not delay a real administrator;
//   - a source address with Limits.LockoutFailures failures within
//     Limits.LockoutWindow is locked out for Limits.LockoutTime: its
//     attempts are refused without a hash check;
//   - a failed login is answered after Limits.LoginDelay, which holds no
//     hash slot;
//   - failed logins are logged with the username truncated and at most
//     authLogBurst lines a second, the rest counted.

// LoginRefused is a login refused without checking the credentials: the
// source is locked out, or too many logins are waiting.
type LoginRefused struct {
	Reason     string
	RetryAfter time.Duration
}

func (e *LoginRefused) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("login refused: %s; retry in %s", e.Reason, e.RetryAfter.Round(time.Second))
	}
	return "login refused: " + e.Reason
}

// IsLoginRefused reports whether err is a LoginRefused.
func IsLoginRefused(err error) bool {
	var r *LoginRefused
	return errors.As(err, &r)
}

// maxLockoutSources bounds the table of sources with recent failures.
const maxLockoutSources = 16384

// authLogBurst is how many failed-login lines are logged per second.
const authLogBurst = 20

// maxLoggedName is how much of an unauthenticated username is logged.
const maxLoggedName = 64

type authGate struct {
	lim Limits
	log *slog.Logger

	mu      sync.Mutex
	free    int
	waiting [2][]chan error // 0: existing user, 1: unknown name
	sources map[string]*sourceState

	inFlight, peak      int
	refused, lockedOuts uint64

	logWindow    time.Time
	logCount     int
	logSuppessed int
}

type sourceState struct {
	windowStart time.Time
	failures    int
	lockedUntil time.Time
}

func newAuthGate(lim Limits, log *slog.Logger) *authGate {
	return &authGate{lim: lim, log: log, free: lim.ConcurrentAuth, sources: map[string]*sourceState{}}
}

var errAuthBusy = &LoginRefused{Reason: "too many logins in progress"}

// acquire takes a hash slot, waiting at most AuthWait.
func (g *authGate) acquire(ctx context.Context, prio int) error {
	g.mu.Lock()
	if g.free > 0 {
		g.free--
		g.startedLocked()
		g.mu.Unlock()
		return nil
	}
	if len(g.waiting[0])+len(g.waiting[1]) >= g.lim.AuthQueue {
		// Full: an existing user's login pushes out the newest unknown
		// name's, which fails as busy.
		n := len(g.waiting[1])
		if prio == 1 || n == 0 {
			g.refused++
			g.mu.Unlock()
			return errAuthBusy
		}
		g.refused++
		g.waiting[1][n-1] <- errAuthBusy
		g.waiting[1] = g.waiting[1][:n-1]
	}
	ch := make(chan error, 1)
	g.waiting[prio] = append(g.waiting[prio], ch)
	g.mu.Unlock()
	wctx, cancel := waitCtx(ctx, g.lim.AuthWait)
	defer cancel()
	select {
	case err := <-ch:
		return err
	case <-wctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, c := range g.waiting[prio] {
		if c == ch {
			g.waiting[prio] = append(g.waiting[prio][:i], g.waiting[prio][i+1:]...)
			g.refused++
			return errAuthBusy
		}
	}
	// Granted (or refused) while giving up: a granted slot goes back.
	if err := <-ch; err == nil {
		g.releaseLocked()
	}
	return errAuthBusy
}

func (g *authGate) release() {
	g.mu.Lock()
	g.releaseLocked()
	g.mu.Unlock()
}

func (g *authGate) releaseLocked() {
	g.inFlight--
	for p := range g.waiting {
		if len(g.waiting[p]) > 0 {
			ch := g.waiting[p][0]
			g.waiting[p] = g.waiting[p][1:]
			g.startedLocked()
			ch <- nil // the slot passes to it
			return
		}
	}
	g.free++
}

func (g *authGate) startedLocked() {
	g.inFlight++
	g.peak = max(g.peak, g.inFlight)
}

// AuthStats counts the work of the authentication gate.
type AuthStats struct {
	// PeakChecks is the most password hash checks that ran at once.
	PeakChecks int
	// Refused counts logins refused as busy; LockedOut those refused
	// because their source was locked out.
	Refused, LockedOut uint64
}

// AuthStats returns the counters of the authentication gate.
func (s *Server) AuthStats() AuthStats {
	g := s.auth
	g.mu.Lock()
	defer g.mu.Unlock()
	return AuthStats{PeakChecks: g.peak, Refused: g.refused, LockedOut: g.lockedOuts}
}

// lockedOut returns how long host remains locked out, 0 if it is not.
func (g *authGate) lockedOut(host string, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.sources[host]; st != nil && now.Before(st.lockedUntil) {
		g.lockedOuts++
		return st.lockedUntil.Sub(now)
	}
	return 0
}

// failed counts a failure of host; it reports whether host is now locked
// out.
func (g *authGate) failed(host string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.sources[host]
	if st == nil {
		if len(g.sources) >= maxLockoutSources {
			g.pruneLocked(now)
		}
		st = &sourceState{windowStart: now}
		g.sources[host] = st
	}
	if now.Sub(st.windowStart) > g.lim.LockoutWindow {
		st.windowStart, st.failures = now, 0
	}
	st.failures++
	if st.failures >= g.lim.LockoutFailures {
		st.lockedUntil = now.Add(g.lim.LockoutTime)
		st.windowStart, st.failures = now, 0
		return true
	}
	return false
}

func (g *authGate) succeeded(host string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.sources[host]; st != nil && st.lockedUntil.IsZero() {
		delete(g.sources, host)
	}
}

// pruneLocked drops sources with nothing recent; if all are recent, it
// drops some anyway: the table stays bounded, at the price of forgetting.
func (g *authGate) pruneLocked(now time.Time) {
	for h, st := range g.sources {
		if now.After(st.lockedUntil) && now.Sub(st.windowStart) > g.lim.LockoutWindow {
			delete(g.sources, h)
		}
	}
	for h := range g.sources {
		if len(g.sources) < maxLockoutSources*3/4 {
			break
		}
		delete(g.sources, h)
	}
}

// logFailure logs a failed login, bounded in size and rate.
func (g *authGate) logFailure(msg, user, source, transport, method string) {
	now := time.Now()
	g.mu.Lock()
	if now.Sub(g.logWindow) >= time.Second {
		if g.logSuppessed > 0 {
			defer g.log.Warn("login failures not logged", "count", g.logSuppessed)
		}
		g.logWindow, g.logCount, g.logSuppessed = now, 0, 0
	}
	g.logCount++
	if g.logCount > authLogBurst {
		g.logSuppessed++
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	g.log.Warn(msg, "user", BoundedName(user), "source", source, "transport", transport, "method", method)
}

// BoundedName returns an untrusted name fit for a log line or an error:
// at most maxLoggedName bytes of valid UTF-8, marked when cut.
func BoundedName(s string) string {
	return Truncate(s, maxLoggedName)
}

// Truncate cuts s to at most n bytes on a character boundary and says how
// long it was.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:cut], len(s))
}

// hostOf returns the address part of "host:port", or addr itself.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// Login checks a user's password for a front end (transport "netconf",
// "gnmi", "cli") on behalf of the client at source. It passes the gate
// above; a wrong password or an unknown user gives the same error, after
// the login delay; a refused attempt gives a *LoginRefused.
func (s *Server) Login(ctx context.Context, transport, source, name, password string) (*User, error) {
	g := s.auth
	host := hostOf(source)
	if wait := g.lockedOut(host, time.Now()); wait > 0 {
		g.logFailure("login refused: source locked out", name, host, transport, "password")
		return nil, &LoginRefused{Reason: "too many failed logins from " + host, RetryAfter: wait}
	}
	prio := 1
	if u := s.Running().GetSystem().GetAaa().GetUsers().GetUser(name); u != nil && u.Password != nil {
		prio = 0
	}
	if err := g.acquire(ctx, prio); err != nil {
		g.logFailure("login refused: busy", name, host, transport, "password")
		return nil, err
	}
	u, err := s.checkPassword(name, password)
	g.release()
	if err == nil {
		g.succeeded(host)
		return u, nil
	}
	if g.failed(host, time.Now()) {
		g.logFailure("login failed; source locked out", name, host, transport, "password")
	} else {
		g.logFailure("login failed", name, host, transport, "password")
	}
	s.loginDelay(ctx)
	return nil, err
}

// LoginKey checks that key is one of the user's authorized keys, for the
// client at source. A key that does not fit is not counted as a failed
// login (SSH clients offer their keys in turn), but a locked-out source
// is refused.
func (s *Server) LoginKey(transport, source, name string, key ssh.PublicKey) (*User, error) {
	host := hostOf(source)
	if wait := s.auth.lockedOut(host, time.Now()); wait > 0 {
		return nil, &LoginRefused{Reason: "too many failed logins from " + host, RetryAfter: wait}
	}
	return s.AuthenticateKey(name, key)
}

// SecureSSH limits an SSH server configuration to the algorithms of
// x/crypto/ssh without known weaknesses: no diffie-hellman-group14-sha1,
// no hmac-sha1-96, which its defaults still offer. Every SSH front end
// calls it.
func SecureSSH(cfg *ssh.ServerConfig) {
	algs := ssh.SupportedAlgorithms()
	cfg.KeyExchanges = algs.KeyExchanges
	cfg.MACs = algs.MACs
	cfg.Ciphers = algs.Ciphers
}

func (s *Server) loginDelay(ctx context.Context) {
	if ctx == nil {
		ctx = context.Background()
	}
	t := time.NewTimer(s.limits.LoginDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
