package bfd

import "time"

// slowStartTx is the fastest a session may send while not Up (RFC 5880
// section 6.8.3): one second.
const slowStartTx = 1_000_000

// Counters are a session's packet counters.
type Counters struct {
	RxPackets      uint64
	TxPackets      uint64
	RxInvalid      uint64
	RxAuthFailures uint64
	RxDropped      uint64
	TxFailed       uint64
}

// Session is one BFD session: the state variables of RFC 5880 section 6.8.1
// and its timers. It is owned by an Engine and only touched under the
// engine's lock; callers read it through Engine.Session.
type Session struct {
	eng    *Engine
	cfg    SessionConfig
	sender Sender

	// RFC 5880 section 6.8.1 state variables.
	state              State
	remoteState        State
	localDiscr         uint32
	remoteDiscr        uint32
	localDiag          Diag
	remoteDiag         Diag
	remoteMinRx        uint32 // bfd.RemoteMinRxInterval
	remoteDesiredMinTx uint32
	remoteDetectMult   uint8
	remoteDemand       bool
	authSeqKnown       bool
	rcvAuthSeq         uint32
	xmitAuthSeq        uint32
	remoteAuthed       bool

	// Poll sequence (section 6.5): while pollActive every periodic packet
	// carries P. effTx/effRx are the intervals in effect for timing, which
	// lag the configured ones until the Final arrives (section 6.8.3).
	pollActive bool
	effTx      uint32
	effRx      uint32

	// Timers, in engine nanoseconds; 0 is disarmed.
	nextTx   int64
	txIval   int64 // the un-jittered interval nextTx was computed from
	detectAt int64
	lastRx   int64
	due      int64
	heapIdx  int

	dynamic bool // created by EnableDynamic's template

	stabTxSeq uint32
	stab      stabilityRx

	counters  Counters
	upCount   uint32
	downCount uint32
	lastUp    time.Time
	lastDown  time.Time
}

// advertisedTx is the Desired Min TX Interval this end sends: the
// configured one, but never below one second while not Up (slow start).
func (s *Session) advertisedTx() uint32 {
	if s.state != StateUp {
		return max(s.cfg.DesiredMinTxInterval, slowStartTx)
	}
	return s.cfg.DesiredMinTxInterval
}

// txInterval is the un-jittered periodic transmission interval of section
// 6.8.7: the larger of our desired interval in effect and the peer's
// required receive interval.
func (s *Session) txInterval() uint32 {
	tx := s.effTx
	if s.state != StateUp {
		tx = max(tx, slowStartTx)
	}
	return max(tx, s.remoteMinRx)
}

// detectionTime is section 6.8.4's Detection Time in microseconds:
// asynchronous mode uses the peer's multiplier and the larger of our
// required receive interval (in effect) and the peer's desired transmit
// interval; in demand mode our own multiplier and transmit interval.
func (s *Session) detectionTime() uint64 {
	if s.cfg.Path.Kind == PathSBFD {
		// RFC 7880 section 7.3.2: the initiator times its own packets'
		// answers: its multiplier times its transmit interval.
		return uint64(s.cfg.DetectMult) * uint64(s.txInterval())
	}
	if s.localDemandActive() {
		return uint64(s.cfg.DetectMult) * uint64(max(s.advertisedTx(), s.remoteMinRx))
	}
	return uint64(s.remoteDetectMult) * uint64(max(s.effRx, s.remoteDesiredMinTx))
}

// localDemandActive: we asked the peer to stop sending (section 6.6) and
// both ends are Up, so our detection timer does not run except during a
// Poll sequence.
func (s *Session) localDemandActive() bool {
	return s.cfg.Demand && s.state == StateUp && s.remoteState == StateUp
}

// remoteDemandActive: the peer asked us to stop periodic packets.
func (s *Session) remoteDemandActive() bool {
	return s.remoteDemand && s.state == StateUp && s.remoteState == StateUp
}

// maySendPeriodic is the list of "MUST NOT transmit" rules of 6.8.7.
func (s *Session) maySendPeriodic() bool {
	switch {
	case s.cfg.Passive && s.remoteDiscr == 0:
		return false
	case s.remoteMinRx == 0:
		return false
	case s.remoteDemandActive() && !s.pollActive:
		return false
	}
	return true
}

// jitter reduces an interval by 0-25%, or 10-25% with a multiplier of 1
// (section 6.8.7), so that sessions do not synchronise.
func (s *Session) jitter(ival int64) int64 {
	if s.cfg.DetectMult == 1 {
		return ival * int64(75+s.eng.rng.IntN(16)) / 100
	}
	return ival * int64(75+s.eng.rng.IntN(26)) / 100
}

// reschedule rearms the transmit timer after anything that changes the
// interval or whether we may send, then places the session in the heap.
func (s *Session) reschedule(now int64) {
	if !s.maySendPeriodic() {
		s.nextTx = 0
		s.txIval = 0
	} else {
		ival := int64(s.txInterval()) * 1000
		switch {
		case s.nextTx == 0:
			// First packet, or sending resumes: go now.
			s.nextTx = now
			s.txIval = ival
		case ival < s.txIval:
			// A shorter interval takes effect at once rather than
			// after the longer wait already scheduled.
			if n := now + s.jitter(ival); n < s.nextTx {
				s.nextTx = n
			}
			s.txIval = ival
		default:
			s.txIval = ival
		}
	}
	s.updateDue()
}

func (s *Session) updateDue() {
	due := s.nextTx
	if s.detectAt != 0 && (due == 0 || s.detectAt < due) {
		due = s.detectAt
	}
	s.due = due
	s.eng.timers.set(s)
}

// armDetect restarts the detection timer from now.
func (s *Session) armDetect(now int64) {
	if s.state == StateAdminDown || s.localDemandActive() && !s.pollActive {
		s.detectAt = 0
		return
	}
	s.detectAt = now + int64(s.detectionTime())*1000
}

// setState moves the session and records why.
func (s *Session) setState(now int64, st State, diag Diag) {
	old := s.state
	s.localDiag = diag
	if old == st {
		return
	}
	s.state = st
	t := s.eng.wall(now)
	if st == StateUp {
		s.upCount++
		s.lastUp = t
		// Leaving slow start changes the advertised interval: tell the
		// peer with a Poll, as section 6.8.3 asks for any change.
		if s.cfg.DesiredMinTxInterval < slowStartTx {
			s.pollActive = true
		}
	}
	if old == StateUp {
		s.downCount++
		s.lastDown = t
		s.pollActive = false
		s.effTx, s.effRx = s.cfg.DesiredMinTxInterval, s.cfg.RequiredMinRxInterval
	}
	s.eng.noteChange(s, old, t)
}

// expire runs the timers that are due at now.
func (s *Session) expire(now int64) {
	if s.detectAt != 0 && s.detectAt <= now {
		s.detectAt = 0
		// Section 6.8.4; and 6.8.1: the peer's discriminator is
		// forgotten when a Detection Time passes in silence.
		if s.state == StateInit || s.state == StateUp {
			s.setState(now, StateDown, DiagControlDetectionTimeExpired)
		}
		s.remoteDiscr = s.cfg.SBFDRemoteDiscr // 0 except for S-BFD
		s.remoteState = StateDown
		s.remoteDemand = false
		s.authSeqKnown = false
	}
	if s.nextTx != 0 && s.nextTx <= now && s.maySendPeriodic() {
		s.transmit(false)
		s.nextTx = now + s.jitter(s.txIval)
	}
	s.reschedule(now)
}

// transmit sends one Control packet; final answers a Poll.
func (s *Session) transmit(final bool) {
	p := Packet{
		Diag:                  s.localDiag,
		State:                 s.state,
		Poll:                  s.pollActive && !final,
		Final:                 final,
		Demand:                s.cfg.Demand && s.state == StateUp && s.remoteState == StateUp,
		DetectMult:            s.cfg.DetectMult,
		MyDiscriminator:       s.localDiscr,
		YourDiscriminator:     s.remoteDiscr,
		DesiredMinTxInterval:  s.advertisedTx(),
		RequiredMinRxInterval: s.cfg.RequiredMinRxInterval,
	}
	s.fillAuth(&p)
	b := p.AppendEncode(s.eng.txBuf[:0])
	if !s.sign(b) {
		s.counters.TxFailed++
		return
	}
	if err := s.sender.Send(s.cfg.Path, b); err != nil {
		s.counters.TxFailed++
		return
	}
	s.counters.TxPackets++
	s.eng.noteSender(s.sender)
}

// receive applies an accepted-by-codec packet (section 6.8.6 from the
// authentication check on). raw is the packet as received, for digests.
func (s *Session) receive(now int64, p *Packet, raw []byte, ttl uint8) {
	if min := s.minTTL(); ttl < min {
		s.counters.RxDropped++
		return
	}
	if !s.authenticate(now, p, raw) {
		s.counters.RxAuthFailures++
		return
	}
	s.counters.RxPackets++
	s.lastRx = now
	if p.AuthPresent && s.cfg.Stability.Enabled && p.Auth.Type == s.cfg.Stability.authType() {
		s.stab.observe(&p.Auth, s.negotiatedRx())
	}

	s.remoteDiscr = p.MyDiscriminator
	s.remoteState = p.State
	s.remoteDiag = p.Diag
	s.remoteDemand = p.Demand
	s.remoteMinRx = p.RequiredMinRxInterval
	s.remoteDesiredMinTx = p.DesiredMinTxInterval
	s.remoteDetectMult = p.DetectMult

	if p.Final && s.pollActive {
		s.pollActive = false
		s.effTx, s.effRx = s.cfg.DesiredMinTxInterval, s.cfg.RequiredMinRxInterval
	}

	if s.state == StateAdminDown {
		s.reschedule(now)
		return
	}
	if s.cfg.Path.Kind == PathSBFD {
		s.receiveSBFD(now, p)
		return
	}
	if p.State == StateAdminDown {
		if s.state != StateDown {
			s.setState(now, StateDown, DiagNeighborSignaledSessionDown)
		}
	} else {
		switch s.state {
		case StateDown:
			switch p.State {
			case StateDown:
				s.setState(now, StateInit, DiagNone)
			case StateInit:
				s.setState(now, StateUp, DiagNone)
			}
		case StateInit:
			if p.State == StateInit || p.State == StateUp {
				s.setState(now, StateUp, DiagNone)
			}
		case StateUp:
			if p.State == StateDown {
				s.setState(now, StateDown, DiagNeighborSignaledSessionDown)
			}
		}
	}
	if p.Poll {
		// Answer at once, whatever the timers, state or demand mode.
		s.transmit(true)
	}
	s.armDetect(now)
	s.reschedule(now)
}

func (s *Session) minTTL() uint8 {
	if s.cfg.Path.Kind == PathSingleHop {
		return 255
	}
	return s.cfg.MinRxTTL
}

// negotiatedTx and negotiatedRx are the intervals in effect, for state.
func (s *Session) negotiatedTx() uint32 { return s.txInterval() }
func (s *Session) negotiatedRx() uint32 { return max(s.effRx, s.remoteDesiredMinTx) }

// reconfigure applies a new configuration to a running session.
func (s *Session) reconfigure(now int64, c SessionConfig) {
	old := s.cfg
	s.cfg = c
	timing := old.DesiredMinTxInterval != c.DesiredMinTxInterval ||
		old.RequiredMinRxInterval != c.RequiredMinRxInterval ||
		old.DetectMult != c.DetectMult
	if timing && (s.state == StateUp || s.state == StateInit) {
		// Section 6.8.3: a larger transmit interval and a smaller
		// receive interval wait for the Final; the other directions
		// are safe at once.
		s.pollActive = true
		s.effTx = min(s.effTx, c.DesiredMinTxInterval)
		s.effRx = max(s.effRx, c.RequiredMinRxInterval)
	} else if !s.pollActive {
		s.effTx, s.effRx = c.DesiredMinTxInterval, c.RequiredMinRxInterval
	}
	if old.Auth.Type != c.Auth.Type {
		s.authSeqKnown = false
	}
	switch {
	case c.AdminDown && s.state != StateAdminDown:
		// Section 6.8.16: AdminDown, diag 7, no detection.
		s.setState(now, StateAdminDown, DiagAdministrativelyDown)
		s.detectAt = 0
	case !c.AdminDown && s.state == StateAdminDown:
		s.setState(now, StateDown, DiagNone)
	}
	if s.detectAt != 0 {
		s.armDetect(s.lastRx)
	}
	s.reschedule(now)
}

// receiveSBFD is the initiator's state machine (RFC 7880 section 7.3.1):
// the reflector's Up brings it Up, its AdminDown takes it Down.
func (s *Session) receiveSBFD(now int64, p *Packet) {
	s.remoteDiscr = s.cfg.SBFDRemoteDiscr
	if p.MyDiscriminator != s.cfg.SBFDRemoteDiscr {
		// Not the reflector we asked: it proves nothing.
		return
	}
	switch {
	case p.State == StateUp && s.state == StateDown:
		s.setState(now, StateUp, DiagNone)
	case p.State == StateAdminDown && s.state == StateUp:
		s.setState(now, StateDown, DiagNeighborSignaledSessionDown)
	}
	s.armDetect(now)
	s.reschedule(now)
}
