package bfd

import "time"

// SessionInfo is a snapshot of one session for state rendering.
type SessionInfo struct {
	Config               SessionConfig
	LocalDiscr           uint32
	RemoteDiscr          uint32
	LocalState           State
	RemoteState          State
	LocalDiag            Diag
	RemoteDiag           Diag
	RemoteMultiplier     uint8
	RemoteMinTxInterval  uint32
	RemoteMinRxInterval  uint32
	NegotiatedTxInterval uint32
	NegotiatedRxInterval uint32
	DetectionTime        uint64 // microseconds
	DemandMode           bool
	RemoteAuthenticated  bool
	PollActive           bool
	// AuthSeq is the last transmitted authentication sequence number,
	// meaningful only for the keyed types.
	AuthSeq   uint32
	UpCount   uint32
	DownCount uint32
	LastUp    time.Time
	LastDown  time.Time
	Counters  Counters
	Stability StabilityStats
	// StabilityTxSeq is the sequence number of the last sent section.
	StabilityTxSeq uint32
	// Dynamic is set for sessions created by EnableDynamic.
	Dynamic bool
}

func (s *Session) info() SessionInfo {
	txSeq := s.stabTxSeq
	if txSeq > 0 {
		txSeq-- // stabTxSeq is the next one to send
	}
	return SessionInfo{
		Config:               s.cfg,
		LocalDiscr:           s.localDiscr,
		RemoteDiscr:          s.remoteDiscr,
		LocalState:           s.state,
		RemoteState:          s.remoteState,
		LocalDiag:            s.localDiag,
		RemoteDiag:           s.remoteDiag,
		RemoteMultiplier:     s.remoteDetectMult,
		RemoteMinTxInterval:  s.remoteDesiredMinTx,
		RemoteMinRxInterval:  s.remoteMinRx,
		NegotiatedTxInterval: s.negotiatedTx(),
		NegotiatedRxInterval: s.negotiatedRx(),
		DetectionTime:        s.detectionTime(),
		DemandMode:           s.localDemandActive() || s.remoteDemandActive(),
		RemoteAuthenticated:  s.remoteAuthed,
		PollActive:           s.pollActive,
		AuthSeq:              s.xmitAuthSeq,
		UpCount:              s.upCount,
		DownCount:            s.downCount,
		LastUp:               s.lastUp,
		LastDown:             s.lastDown,
		Counters:             s.counters,
		Stability:            s.stab.StabilityStats,
		StabilityTxSeq:       txSeq,
		Dynamic:              s.dynamic,
	}
}

// Session returns a snapshot of the session with local discriminator d.
func (e *Engine) Session(d uint32) (SessionInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sessions[d]
	if s == nil {
		return SessionInfo{}, false
	}
	return s.info(), true
}

// Sessions calls fn for every session's snapshot, under the lock: fn must
// be quick and must not call the engine.
func (e *Engine) Sessions(fn func(SessionInfo)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sessions {
		fn(s.info())
	}
}

// Summary counts sessions by state.
type Summary struct{ Total, Up, Down, AdminDown int }

// Summary returns the session totals.
func (e *Engine) Summary() Summary {
	e.mu.Lock()
	defer e.mu.Unlock()
	var m Summary
	for _, s := range e.sessions {
		m.Total++
		switch s.state {
		case StateUp:
			m.Up++
		case StateAdminDown:
			m.AdminDown++
		default:
			m.Down++
		}
	}
	return m
}
