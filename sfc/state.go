package sfc

import (
	"net/netip"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/sfc/node"
	"github.com/wirebeat/wirebeat/sfc/nsh"
)

func u64(v uint64) *uint64 { return &v }

// State fills the config-false leaves of /sfc from the node: counters,
// the installed policy table with its per-(SPI, SI) counters, per-map and
// per-rule counters, and locator liveness.
func (s *Subsystem) State(root *gen.Device, _ []*gpb.Path) error {
	s.mu.Lock()
	cur := s.cur
	lastChange := make(map[netip.Addr]time.Time, len(s.lastChange))
	for a, t := range s.lastChange {
		lastChange[a] = t
	}
	tableTime := s.tableTime
	s.mu.Unlock()
	if cur == nil || !cur.active {
		return nil
	}
	t := s.node.Table()
	c := s.node.Counters()
	sfc := root.GetOrCreateSfc()
	ct := sfc.GetOrCreateCounters()
	ct.ClassifiedPackets, ct.UnclassifiedPackets = u64(c.Classified), u64(c.Unclassified)
	ct.ForwardedPackets, ct.DecapsulatedPackets = u64(c.Forwarded), u64(c.Decapsulated)
	ct.LoopDetectedDrops = u64(c.Drops[node.DropLoop])
	ct.TtlExpiredDrops = u64(c.Drops[node.DropTTL])
	ct.UnknownMapDrops = u64(c.Drops[node.DropUnknownSPI])
	ct.SfUnreachable = u64(c.Drops[node.DropSFUnreachable])
	ct.MalformedDrops = u64(c.Drops[node.DropMalformed])
	ct.SiExhaustedDrops = u64(c.Drops[node.DropSIExhausted])
	ct.UnknownSiDrops = u64(c.Drops[node.DropUnknownSI])
	ct.TooBigDrops = u64(c.Drops[node.DropTooBig])
	ct.UnclassifiedDrops = u64(c.Drops[node.DropUnclassified])
	ct.ProxyMissDrops = u64(c.Drops[node.DropProxyMiss])
	ct.Fragments = u64(c.Fragments)
	ct.StrippedExternalPackets = u64(c.StrippedExternal)
	ct.LocalSfInvocations = u64(c.Invocations)
	m := ct.GetOrCreateMalformed()
	m.Truncated = u64(c.Malformed[nsh.ErrTruncated])
	m.BadVersion = u64(c.Malformed[nsh.ErrVersion])
	m.LengthBeyondPacket = u64(c.Malformed[nsh.ErrLength])
	m.BadMd1Length = u64(c.Malformed[nsh.ErrMD1Length])
	m.BadMd2Length = u64(c.Malformed[nsh.ErrMD2Length])
	m.UnsupportedMdType = u64(c.Malformed[nsh.ErrMDType])
	m.TlvOverflow = u64(c.Malformed[nsh.ErrTLVOverflow])

	pt := sfc.GetOrCreatePolicyTable()
	pt.Mode = gen.WirebeatSfc_PolicyTableMode_full
	if cur.node.Lightweight {
		pt.Mode = gen.WirebeatSfc_PolicyTableMode_lightweight
	}
	if cur.node.SFNode {
		id := cur.node.LocalSF
		pt.LocalSfId = &id
	}
	if !tableTime.IsZero() {
		ts := tableTime.UTC().Format(time.RFC3339Nano)
		pt.LastUpdate = &ts
	}
	entries := t.Entries()
	n := uint32(len(entries))
	pt.EntryCount = &n
	for _, e := range entries {
		ge, err := pt.NewEntry(e.SPI, e.SI)
		if err != nil {
			continue
		}
		switch e.Action {
		case node.ActForward:
			ge.Action = gen.WirebeatSfc_PolicyAction_forward
		case node.ActLocal:
			ge.Action = gen.WirebeatSfc_PolicyAction_local
		case node.ActDecapsulate:
			ge.Action = gen.WirebeatSfc_PolicyAction_decapsulate
		}
		if e.NextSF != "" {
			sf := e.NextSF
			ge.NextServiceFunction = &sf
		}
		for _, h := range e.NextHops {
			ge.NextHop = append(ge.NextHop, h.String())
		}
		ge.Packets, ge.Bytes = u64(e.Packets), u64(e.Bytes)
	}
	// The tree handed in may hold state only: list entries are made from
	// the configuration in effect.
	mapCtr := t.MapCounters()
	for _, m := range cur.node.Maps {
		gm := sfc.GetOrCreateSfMaps().GetOrCreateSfMap(m.Index)
		pc := mapCtr[m.Index]
		mc := gm.GetOrCreateCounters()
		mc.Packets, mc.Bytes = u64(pc[0]), u64(pc[1])
	}
	for _, rc := range t.RuleCounters() {
		r := sfc.GetOrCreateClassifier().GetOrCreateRule(rc.Name)
		c := r.GetOrCreateCounters()
		c.MatchedPackets, c.MatchedBytes = u64(rc.Packets), u64(rc.Bytes)
	}
	for _, sf := range cur.node.SFs {
		gsf := sfc.GetOrCreateServiceFunctions().GetOrCreateServiceFunction(sf.ID)
		up, down := 0, 0
		var last time.Time
		for _, l := range sf.Locators {
			lv := s.node.Liveness(l.Addr)
			st := gsf.GetOrCreateLocator(l.Addr.String()).GetOrCreateState()
			st.LivenessState = livenessEnum(lv)
			if tc, ok := lastChange[l.Addr]; ok {
				ts := tc.UTC().Format(time.RFC3339Nano)
				st.LastChange = &ts
				if tc.After(last) {
					last = tc
				}
			}
			switch lv {
			case node.Up:
				up++
			case node.Down:
				down++
			}
		}
		st := gsf.GetOrCreateState()
		switch {
		case up > 0:
			st.LivenessState = gen.WirebeatSfc_LivenessState_up
		case len(sf.Locators) > 0 && down == len(sf.Locators):
			st.LivenessState = gen.WirebeatSfc_LivenessState_down
		default:
			st.LivenessState = gen.WirebeatSfc_LivenessState_unknown
		}
		if !last.IsZero() {
			ts := last.UTC().Format(time.RFC3339Nano)
			st.LastChange = &ts
		}
	}
	return nil
}

func livenessEnum(l node.Liveness) gen.E_WirebeatSfc_LivenessState {
	switch l {
	case node.Up:
		return gen.WirebeatSfc_LivenessState_up
	case node.Down:
		return gen.WirebeatSfc_LivenessState_down
	}
	return gen.WirebeatSfc_LivenessState_unknown
}
