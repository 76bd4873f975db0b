package sfc

import (
	"net/netip"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/sfc/node"
	"github.com/wirebeat/wirebeat/sfc/nsh"
)

func u64(v uint64) *uint64 { return &v }

// State fills the config-false leaves of /sfc from the node: counters,
// the installed policy table with its per-(SPI, SI) counters, per-map and
// per-rule counters, and locator liveness.
func (s *Subsystem) State(root *gen.Device, paths []*gpb.Path) error {
	want := func(elems ...*gpb.PathElem) bool {
		if len(paths) == 0 {
			return true
		}
		target := sfcPath(elems...).GetElem()
		for _, p := range paths {
			if schema.PathsOverlap(p.GetElem(), target) {
				return true
			}
		}
		return false
	}
	if !want() {
		return nil
	}
	s.mu.Lock()
	cur := s.cur
	tableTime := s.tableTime
	s.mu.Unlock()
	s.lcMu.Lock()
	lastChange := make(map[netip.Addr]time.Time, len(s.lastChange))
	for a, t := range s.lastChange {
		lastChange[a] = t
	}
	s.lcMu.Unlock()
	if cur == nil || !cur.active {
		return nil
	}
	t := s.node.Table()
	c := s.node.Counters()
	sfc := root.GetOrCreateSfc()
	if want(elem("counters")) {
		s.renderCounters(sfc, &c)
	}
	if want(elem("policy-table")) {
		s.renderTable(sfc, cur, t, tableTime)
	}
	if want(elem("sf-maps")) {
		mapCtr := t.MapCounters()
		for _, m := range cur.node.Maps {
			pc := mapCtr[m.Index]
			mc := sfc.GetOrCreateSfMaps().GetOrCreateSfMap(m.Index).GetOrCreateCounters()
			mc.Packets, mc.Bytes = u64(pc[0]), u64(pc[1])
		}
	}
	if want(elem("classifier")) {
		for _, rc := range t.RuleCounters() {
			c := sfc.GetOrCreateClassifier().GetOrCreateRule(rc.Name).GetOrCreateCounters()
			c.MatchedPackets, c.MatchedBytes = u64(rc.Packets), u64(rc.Bytes)
		}
	}
	if want(elem("service-functions")) {
		s.renderLiveness(sfc, cur, lastChange)
	}
	return nil
}

func (s *Subsystem) renderCounters(sfc *gen.WirebeatSfc_Sfc, c *node.Counters) {
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
}

func (s *Subsystem) renderTable(sfc *gen.WirebeatSfc_Sfc, cur *settings, t *node.Table, tableTime time.Time) {
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
}

// renderLiveness fills locator and SF liveness. The tree handed in may
// hold state only: list entries are made from the configuration in
// effect.
func (s *Subsystem) renderLiveness(sfc *gen.WirebeatSfc_Sfc, cur *settings, lastChange map[netip.Addr]time.Time) {
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
