package server

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Limits is the resource budget of the element: everything a client can
// make it spend, before and after login, is bounded here, in one place,
// and every front end (NETCONF, gNMI, CLI) reads its bounds from it rather
// than from constants of its own. A zero field takes the default written
// next to it.
type Limits struct {
	// MaxMessage is the largest message a front end reads (NETCONF
	// message, gNMI request): 64 MiB, enough for an edit of 100,000
	// bindings.
	MaxMessage int
	// ParseMemory is the memory all messages being read and parsed may
	// hold together, across every session: 512 MiB. A message that would
	// take more is refused with resource-denied instead of growing the
	// process. AdminReserve of it is kept for admins.
	ParseMemory int64
	// ParseFactor bounds a parsed message's memory as a multiple of its
	// size (16): the parse tree of a pathological message (attributes,
	// namespace declarations, tiny elements) is refused past it.
	ParseFactor int

	// MaxSessions bounds the open management sessions of all users (100);
	// AdminSessions of them are kept for admins (10), so that no other
	// user can lock the administrators out.
	MaxSessions   int
	AdminSessions int
	// SessionsPerUser bounds one user's open sessions of all front ends
	// (a NETCONF or CLI session, a gNMI RPC in progress; admins excepted,
	// who are bounded by MaxSessions): 32, room for as many subscriptions
	// as SubscriptionsPerUser allows and as many other sessions besides.
	SessionsPerUser int
	// SubscriptionsPerUser bounds one user's event subscriptions (gNMI
	// Subscribe, NETCONF notifications, CLI monitor): 16.
	SubscriptionsPerUser int
	// QueueBytes bounds the bytes queued for one subscriber (4 MiB): a
	// consumer that does not read is cut off once it is reached.
	QueueBytes int

	// ConcurrentAuth bounds the password hash checks running at once,
	// for all front ends together (4: each is ~50 ms of one core), and
	// AuthQueue those waiting for one (64); past that a login is refused
	// at once as busy. AuthWait bounds how long one waits (5 s).
	ConcurrentAuth int
	AuthQueue      int
	AuthWait       time.Duration
	// LoginDelay delays the answer to a failed login (1 s).
	LoginDelay time.Duration
	// LockoutFailures failed logins from one source address within
	// LockoutWindow (10 in 1 min) lock that address out of password and
	// key checks for LockoutTime (1 min).
	LockoutFailures int
	LockoutWindow   time.Duration
	LockoutTime     time.Duration

	// HelloTimeout bounds the time from connection to a usable session
	// (SSH handshake, subsystem request, NETCONF hello): 60 s. IdleTimeout
	// ends a session that sends nothing for that long (1 h; a session
	// waiting for notifications is not idle).
	HelloTimeout time.Duration
	IdleTimeout  time.Duration

	// MaxPathElems and MaxPathBytes bound one request path (gNMI path,
	// XPath, CLI path): 64 elements, 16 KiB of names and keys. Our schema
	// is a dozen levels deep.
	MaxPathElems int
	MaxPathBytes int
}

// The defaults of Limits.
const (
	DefaultMaxMessage           = 64 << 20
	DefaultParseMemory          = 512 << 20
	DefaultParseFactor          = 16
	DefaultMaxSessions          = 100
	DefaultAdminSessions        = 10
	DefaultSessionsPerUser      = 32
	DefaultSubscriptionsPerUser = 16
	DefaultQueueBytes           = 4 << 20
	DefaultConcurrentAuth       = 4
	DefaultAuthQueue            = 64
	DefaultAuthWait             = 5 * time.Second
	DefaultLoginDelay           = time.Second
	DefaultLockoutFailures      = 10
	DefaultLockoutWindow        = time.Minute
	DefaultLockoutTime          = time.Minute
	DefaultHelloTimeout         = 60 * time.Second
	DefaultIdleTimeout          = time.Hour
	DefaultMaxPathElems         = 64
	DefaultMaxPathBytes         = 16 << 10
)

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxMessage, DefaultMaxMessage)
	if l.ParseMemory <= 0 {
		l.ParseMemory = DefaultParseMemory
	}
	def(&l.ParseFactor, DefaultParseFactor)
	def(&l.MaxSessions, DefaultMaxSessions)
	if l.AdminSessions <= 0 {
		l.AdminSessions = min(DefaultAdminSessions, l.MaxSessions/2)
	}
	def(&l.SessionsPerUser, DefaultSessionsPerUser)
	def(&l.SubscriptionsPerUser, DefaultSubscriptionsPerUser)
	def(&l.QueueBytes, DefaultQueueBytes)
	def(&l.ConcurrentAuth, DefaultConcurrentAuth)
	def(&l.AuthQueue, DefaultAuthQueue)
	defD(&l.AuthWait, DefaultAuthWait)
	defD(&l.LoginDelay, DefaultLoginDelay)
	def(&l.LockoutFailures, DefaultLockoutFailures)
	defD(&l.LockoutWindow, DefaultLockoutWindow)
	defD(&l.LockoutTime, DefaultLockoutTime)
	defD(&l.HelloTimeout, DefaultHelloTimeout)
	defD(&l.IdleTimeout, DefaultIdleTimeout)
	def(&l.MaxPathElems, DefaultMaxPathElems)
	def(&l.MaxPathBytes, DefaultMaxPathBytes)
	return l
}

// Limits returns the element's resource budget, defaults filled in.
func (s *Server) Limits() Limits { return s.limits }

// MemoryBudget is a pool of bytes shared by all sessions, with a part that
// only admins may use. Reservations never wait: a request that does not
// fit is refused, so that an attacker holding the pool makes others fail
// fast rather than hang, and admins still have their reserve.
type MemoryBudget struct {
	mu      sync.Mutex
	total   int64
	reserve int64 // of total, kept for admins
	used    int64
	refused uint64
}

// NewMemoryBudget returns a pool of total bytes keeping reserve for admins.
func NewMemoryBudget(total, reserve int64) *MemoryBudget {
	return &MemoryBudget{total: total, reserve: reserve}
}

// ErrBudget is the error of a reservation that does not fit.
type ErrBudget struct {
	Want, Free int64
}

func (e *ErrBudget) Error() string {
	return fmt.Sprintf("parse memory budget exhausted: %d bytes wanted, %d free; retry later", e.Want, e.Free)
}

// Reserve takes n bytes from the pool for a session of role r.
func (b *MemoryBudget) Reserve(n int64, r Role) error {
	if b == nil || n <= 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	limit := b.total
	if r < RoleAdmin {
		limit -= b.reserve
	}
	if b.used+n > limit {
		b.refused++
		return &ErrBudget{Want: n, Free: max(0, limit-b.used)}
	}
	b.used += n
	return nil
}

// Release gives back n bytes taken with Reserve.
func (b *MemoryBudget) Release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		b.used = 0
	}
	b.mu.Unlock()
}

// Used returns the bytes currently reserved.
func (b *MemoryBudget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// ParseBudget is the element's pool for messages being read and parsed
// (Limits.ParseMemory), shared by every front end.
func (s *Server) ParseBudget() *MemoryBudget { return s.parseBudget }

// waitCtx returns a context for a bounded wait.
func waitCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, d)
}
