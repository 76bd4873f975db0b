package bfd

import (
	"sync"
	"sync/atomic"
)

// Seamless BFD (RFC 7880, RFC 7881 for IP). A reflector answers packets
// addressed to its discriminators without keeping per-initiator state; an
// initiator is an engine Session of kind PathSBFD whose remote
// discriminator is configured, not learnt, and whose state machine has no
// Init: Down until the reflector answers Up, Down again on silence
// (diag 1) or on a reflected AdminDown (diag 3).

// SBFDPort is the reflector's well-known UDP port (RFC 7881 section 3).
const SBFDPort = 7784

// ReflectorConfig is what a reflector answers for.
type ReflectorConfig struct {
	Discriminators []uint32
	// AdminDown answers with state AdminDown: the target is deliberately
	// out of service (RFC 7880 section 7.2.2).
	AdminDown bool
	// MinRxInterval is the Required Min RX Interval the reflector
	// advertises: how fast initiators may send (microseconds).
	MinRxInterval uint32
}

// ReflectorCounters are the reflector's packet counters.
type ReflectorCounters struct {
	RxPackets, TxPackets, RxInvalid, RxUnknownDiscriminator uint64
}

type reflectorSettings struct {
	discrs    map[uint32]bool
	adminDown bool
	minRx     uint32
}

// Reflector is the stateless S-BFD responder. Reflect may be called from
// several goroutines; configuration changes are atomic.
type Reflector struct {
	cfg atomic.Pointer[reflectorSettings]

	mu       sync.Mutex
	counters ReflectorCounters
}

// NewReflector returns a reflector answering for c.
func NewReflector(c ReflectorConfig) *Reflector {
	r := &Reflector{}
	r.Configure(c)
	return r
}

// Configure replaces what the reflector answers for.
func (r *Reflector) Configure(c ReflectorConfig) {
	s := &reflectorSettings{discrs: make(map[uint32]bool, len(c.Discriminators)), adminDown: c.AdminDown, minRx: c.MinRxInterval}
	if s.minRx == 0 {
		s.minRx = 10_000
	}
	for _, d := range c.Discriminators {
		s.discrs[d] = true
	}
	r.cfg.Store(s)
}

// Reflect builds the answer to an initiator's packet in into out (capacity
// MaxLen avoids allocation) and reports whether to send it (RFC 7880
// section 7.2.2). fromReflectorPort must be set when the packet came from
// UDP source port 7784: another reflector's answer, which must never be
// answered, or two reflectors would loop (REQ 9 of seed 003).
func (r *Reflector) Reflect(in []byte, out []byte, fromReflectorPort bool) ([]byte, bool) {
	s := r.cfg.Load()
	var p Packet
	if err := p.Decode(in, DecodeOptions{}); err != nil || fromReflectorPort || p.YourDiscriminator == 0 {
		r.count(func(c *ReflectorCounters) { c.RxPackets++; c.RxInvalid++ })
		return out, false
	}
	if !s.discrs[p.YourDiscriminator] {
		r.count(func(c *ReflectorCounters) { c.RxPackets++; c.RxUnknownDiscriminator++ })
		return out, false
	}
	state := StateUp
	diag := DiagNone
	if s.adminDown {
		state, diag = StateAdminDown, DiagAdministrativelyDown
	}
	ans := Packet{
		Diag:                  diag,
		State:                 state,
		Final:                 p.Poll, // a Poll is answered with a Final
		DetectMult:            p.DetectMult,
		MyDiscriminator:       p.YourDiscriminator,
		YourDiscriminator:     p.MyDiscriminator,
		DesiredMinTxInterval:  p.DesiredMinTxInterval,
		RequiredMinRxInterval: s.minRx,
	}
	r.count(func(c *ReflectorCounters) { c.RxPackets++; c.TxPackets++ })
	return ans.AppendEncode(out), true
}

func (r *Reflector) count(f func(*ReflectorCounters)) {
	r.mu.Lock()
	f(&r.counters)
	r.mu.Unlock()
}

// Counters returns the reflector's counters.
func (r *Reflector) Counters() ReflectorCounters {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counters
}
