package adapter

import (
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// covers reports whether any requested path selects something at, above
// or below the node at target (all when paths is empty).
func covers(paths []*gpb.Path, target *gpb.Path) bool {
	return schema.Covers(paths, target.Elem...)
}

// State renders session state, counters and the summary, only for the
// sessions the paths select.
func (s *Subsystem) State(root *gen.Device, paths []*gpb.Path) error {
	if !covers(paths, path(elem("bfd"))) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if covers(paths, path(elem("bfd"), elem("summary"))) {
		m := s.eng.Summary()
		sum := root.GetOrCreateBfd().GetOrCreateSummary()
		sum.NumberOfSessions = ygot.Uint32(uint32(m.Total))
		sum.NumberOfSessionsUp = ygot.Uint32(uint32(m.Up))
		sum.NumberOfSessionsDown = ygot.Uint32(uint32(m.Down))
		sum.NumberOfSessionsAdminDown = ygot.Uint32(uint32(m.AdminDown))
	}
	softwireState(root, paths)
	for k, r := range s.sessions {
		if !covers(paths, k.path()) {
			continue
		}
		info, ok := s.eng.Session(r.discr)
		if !ok {
			continue
		}
		switch k.kind {
		case bfd.PathSingleHop:
			st := root.GetOrCreateBfd().GetOrCreateSingleHop().GetOrCreateSession(k.a, k.b).GetOrCreateState()
			fillSingleHop(st, &info)
		case bfd.PathMultiHop:
			st := root.GetOrCreateBfd().GetOrCreateMultiHop().GetOrCreateSession(k.a, k.b).GetOrCreateState()
			copyLeaves(st, render(&info))
		case bfd.PathSBFD:
			st := root.GetOrCreateBfd().GetOrCreateSbfd().GetOrCreateInitiator(k.a).GetOrCreateState()
			copyLeaves(st, render(&info))
		}
	}
	if s.reflector != nil && covers(paths, path(elem("bfd"), elem("sbfd"), elem("reflector"), elem("counters"))) {
		c := s.reflector.Counters()
		rc := root.GetOrCreateBfd().GetOrCreateSbfd().GetOrCreateReflector().GetOrCreateCounters()
		rc.RxPackets, rc.TxPackets = ygot.Uint64(c.RxPackets), ygot.Uint64(c.TxPackets)
		rc.RxInvalid, rc.RxUnknownDiscriminator = ygot.Uint64(c.RxInvalid), ygot.Uint64(c.RxUnknownDiscriminator)
	}
	return nil
}

// render fills a single-hop state container, the template the other
// session kinds' identical containers are copied from.
func render(i *bfd.SessionInfo) *gen.WirebeatBfd_Bfd_SingleHop_Session_State {
	st := &gen.WirebeatBfd_Bfd_SingleHop_Session_State{}
	fillSingleHop(st, i)
	return st
}

func stateEnum(s bfd.State) gen.E_WirebeatBfd_BfdState { return gen.E_WirebeatBfd_BfdState(s) + 1 }

func diagEnum(d bfd.Diag) gen.E_WirebeatBfd_Diagnostic {
	if d > bfd.DiagReverseConcatenatedPathDown {
		return gen.WirebeatBfd_Diagnostic_UNSET
	}
	return gen.E_WirebeatBfd_Diagnostic(d) + 1
}

func timeString(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return ygot.String(t.UTC().Format(time.RFC3339Nano))
}

// The generated state containers of single-hop, multi-hop and S-BFD
// sessions are distinct types with the same fields: one is filled and
// copied into the others (copyLeaves).

func fillSingleHop(st *gen.WirebeatBfd_Bfd_SingleHop_Session_State, i *bfd.SessionInfo) {
	st.LocalDiscriminator = ygot.Uint32(i.LocalDiscr)
	st.RemoteDiscriminator = ygot.Uint32(i.RemoteDiscr)
	st.LocalState, st.RemoteState = stateEnum(i.LocalState), stateEnum(i.RemoteState)
	st.LocalDiagnostic, st.RemoteDiagnostic = diagEnum(i.LocalDiag), diagEnum(i.RemoteDiag)
	if i.RemoteMultiplier != 0 {
		st.RemoteMultiplier = ygot.Uint8(i.RemoteMultiplier)
	}
	st.RemoteMinTxInterval = ygot.Uint32(i.RemoteMinTxInterval)
	st.RemoteMinRxInterval = ygot.Uint32(i.RemoteMinRxInterval)
	st.NegotiatedTxInterval = ygot.Uint32(i.NegotiatedTxInterval)
	st.NegotiatedRxInterval = ygot.Uint32(i.NegotiatedRxInterval)
	st.DetectionTime = ygot.Uint64(i.DetectionTime)
	st.DemandMode = ygot.Bool(i.DemandMode)
	st.RemoteAuthenticated = ygot.Bool(i.RemoteAuthenticated)
	if i.Config.Auth.Type > bfd.AuthSimplePassword {
		st.AuthSequence = ygot.Uint32(i.AuthSeq)
	}
	st.UpCount, st.DownCount = ygot.Uint32(i.UpCount), ygot.Uint32(i.DownCount)
	st.LastUpTime, st.LastDownTime = timeString(i.LastUp), timeString(i.LastDown)
	c := st.GetOrCreateCounters()
	c.RxPackets, c.TxPackets = ygot.Uint64(i.Counters.RxPackets), ygot.Uint64(i.Counters.TxPackets)
	c.RxInvalid, c.RxAuthFailures = ygot.Uint64(i.Counters.RxInvalid), ygot.Uint64(i.Counters.RxAuthFailures)
	c.RxDropped, c.TxFailed = ygot.Uint64(i.Counters.RxDropped), ygot.Uint64(i.Counters.TxFailed)
	if i.Config.Stability.Enabled {
		sb, x := st.GetOrCreateStability(), i.Stability
		sb.RxLost, sb.RxOutOfOrder, sb.RxDuplicate = ygot.Uint64(x.Lost), ygot.Uint64(x.OutOfOrder), ygot.Uint64(x.Duplicate)
		sb.TxSequence, sb.RxSequence = ygot.Uint32(i.StabilityTxSeq), ygot.Uint32(x.RxSeq)
		if i.Config.Stability.Delay {
			sb.DelayMin, sb.DelayAvg, sb.DelayMax, sb.DelayLast = ygot.Uint32(x.DelayMin), ygot.Uint32(x.DelayAvg), ygot.Uint32(x.DelayMax), ygot.Uint32(x.DelayLast)
			sb.IntervalDeviationMax = ygot.Uint32(x.IntervalDeviationMax)
		}
	}
}
