package softwire

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/bfd"
	bfdadapter "github.com/wirebeat/wirebeat/bfd/adapter"
	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/softwire/dslite"
)

// aftrRun is a running AFTR.
type aftrRun struct {
	engineRun
	log   *slog.Logger
	a     *dslite.AFTR
	mon   *dslite.AFTRBFD
	setup aftrSetup
}

func (s *DSLiteSubsystem) buildAFTR(dev *gen.Device) (*aftrRun, error) {
	st, err := aftrSetupOf(dev)
	if err != nil {
		return nil, err
	}
	r := &aftrRun{setup: st}
	in := dslite.LinkConfig{IPv6: []netip.Addr{st.Engine.TunnelEndpoint}, Gateway6: st.InternalNextHop}
	if st.Engine.UnicastAddress.IsValid() {
		in.IPv6 = append(in.IPv6, st.Engine.UnicastAddress)
	}
	ext := dslite.LinkConfig{IPv4: st.ExternalAddress, Gateway4: st.ExternalNextHop}
	links, err := s.openLinks(&r.engineRun, [2]string{st.InternalDev, st.ExternalDev}, [2]dslite.LinkConfig{in, ext})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", aftrPath, err)
	}
	cfg := st.Engine
	cfg.Log = s.log.With("engine", "dslite-aftr")
	cfg.OnPortBlock = s.portBlockEvent
	r.beng = bfd.NewEngine(bfd.Options{Log: s.log, OnChange: func(c bfd.Change) {
		if r.mon != nil {
			r.mon.HandleChange(c)
		}
	}})
	local := cfg.TunnelEndpoint
	if cfg.UnicastAddress.IsValid() {
		local = cfg.UnicastAddress
	}
	if st.BFD {
		tmpl, err := bfdadapter.ProfileSessionConfig(dev, st.BFDProfile)
		if err != nil {
			r.closePorts()
			return nil, err
		}
		r.mon, err = dslite.NewAFTRBFD(r.beng, local, dslite.AFTRBFDConfig{Template: tmpl, MaxSessions: st.BFDMax,
			IdleTimeout: st.BFDIdle, OnB4Unreachable: s.b4UnreachableEvent, Active: st.BFDActive})
		if err != nil {
			r.closePorts()
			return nil, fmt.Errorf("%s/bfd: %w", aftrPath, err)
		}
		cfg.OnBFD = r.mon.Receive
		if st.BFDActive {
			cfg.OnB4 = r.mon.Track
		}
		for _, b4 := range st.BFDPeers {
			if err := r.mon.AddB4(b4); err != nil {
				r.closePorts()
				return nil, fmt.Errorf("/bfd/softwire/session[b4-address=%s]: %w", b4, err)
			}
		}
	}
	r.a, err = dslite.NewAFTR(cfg, dslite.Split{V4: links[1], V6: links[0]}, time.Now())
	if err != nil {
		r.closePorts()
		return nil, fmt.Errorf("%s: %w", aftrPath, err)
	}
	links[0].OnIPv6 = r.a.FromB4
	links[1].OnIPv4 = r.a.FromInternet
	r.makeRunner(links, func(now time.Time) {
		r.a.Advance(now)
		if r.mon != nil {
			r.mon.Service(r.a, now)
		}
	})
	r.log = s.log.With("tunnel-endpoint", cfg.TunnelEndpoint, "pools", cfg.Pools,
		"internal-device", st.InternalDev, "external-device", st.ExternalDev, "bfd", st.BFD)
	return r, nil
}

// begin runs a built AFTR.
func (r *aftrRun) begin() {
	r.start()
	r.log.Info("dslite: AFTR started")
}

func (s *DSLiteSubsystem) portBlockEvent(e dslite.PortBlockEvent) {
	ev := "released"
	if e.Allocated {
		ev = "allocated"
	}
	s.publish(events.Event{Time: e.Time, Kind: events.Notification, Module: "wirebeat-softwire", Name: "port-block",
		Leaves: []events.Leaf{{Name: "b4-address", Value: e.B4.String()}, {Name: "external-address", Value: e.External.String()},
			{Name: "port-start", Value: e.PortStart}, {Name: "port-end", Value: e.PortEnd},
			{Name: "event", Value: enumName(ev)}, {Name: "time", Value: timeString(e.Time)}}})
}

func (s *DSLiteSubsystem) b4UnreachableEvent(u dslite.B4Unreachable) {
	s.log.Warn("dslite: B4 unreachable", "b4", u.B4, "diagnostic", bfdDiag(u.Diag).String(), "nat-sessions", u.Sessions,
		"last-seen", timeString(u.LastSeen))
	p := &gpb.Path{Elem: []*gpb.PathElem{{Name: "softwire"}, {Name: "aftr"}, {Name: "active-b4", Key: map[string]string{"b4-address": u.B4.String()}}, {Name: "bfd-state"}}}
	s.publish(events.Event{Time: u.Time, Kind: events.Notification, Module: "wirebeat-softwire", Name: "b4-unreachable",
		Leaves: []events.Leaf{{Name: "b4-address", Value: u.B4.String()}, {Name: "diagnostic", Value: bfdDiag(u.Diag)},
			{Name: "sessions", Value: uint32(u.Sessions)}, {Name: "last-seen", Value: timeString(u.LastSeen)}},
		Updates: []events.Update{{Path: p, Value: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: "down"}}}}})
}

// enumName is an enum value in a notification body.
type enumName string

func (e enumName) String() string { return string(e) }

// bfdDiag prints a diagnostic as the YANG bfd-diagnostic enum names it.
type bfdDiag bfd.Diag

var diagNames = [...]string{"none", "control-expiry", "echo-failed", "neighbor-down", "forwarding-reset",
	"path-down", "concatenated-path-down", "admin-down", "reverse-concatenated-path-down"}

func (d bfdDiag) String() string {
	if int(d) < len(diagNames) {
		return diagNames[d]
	}
	return "none"
}

// b4Run is a running B4.
type b4Run struct {
	engineRun
	log   *slog.Logger
	b     *dslite.B4
	mon   *dslite.B4BFD
	setup b4Setup

	mu         sync.Mutex
	discovered []netip.Addr
	aftrName   string
}

func (s *DSLiteSubsystem) buildB4(dev *gen.Device) (*b4Run, error) {
	st, err := b4SetupOf(dev)
	if err != nil {
		return nil, err
	}
	if !st.AddressFixed {
		a, err := s.o.WANAddress(st.WANDev)
		if err != nil {
			return nil, fmt.Errorf("%s/b4-address: absent, and %w", b4Path, err)
		}
		st.Engine.Address = a
	}
	r := &b4Run{setup: st}
	wan := dslite.LinkConfig{IPv6: []netip.Addr{st.Engine.Address}, Gateway6: st.WANNextHop}
	lan := dslite.LinkConfig{IPv4: st.LANAddress}
	links, err := s.openLinks(&r.engineRun, [2]string{st.WANDev, st.LANDev}, [2]dslite.LinkConfig{wan, lan})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b4Path, err)
	}
	cfg := st.Engine
	cfg.Log = s.log.With("engine", "dslite-b4")
	cfg.OnFailover = s.failoverEvent
	r.beng = bfd.NewEngine(bfd.Options{Log: s.log, OnChange: func(c bfd.Change) {
		if r.mon != nil {
			r.mon.HandleChange(c)
		}
	}})
	cfg.OnBFD = func(aftr netip.Addr, ttl uint8, p []byte) {
		if r.mon != nil {
			r.mon.Receive(aftr, ttl, p)
		}
	}
	r.b, err = dslite.NewB4(cfg, dslite.Split{V4: links[1], V6: links[0]}, time.Now())
	if err != nil {
		r.closePorts()
		return nil, fmt.Errorf("%s: %w", b4Path, err)
	}
	if st.BFD {
		tmpl, err := bfdadapter.ProfileSessionConfig(dev, st.BFDProfile)
		if err != nil {
			r.closePorts()
			return nil, err
		}
		r.mon = dslite.NewB4BFD(r.beng, r.b, dslite.B4BFDConfig{Template: tmpl})
		if err := r.mon.Sync(time.Now()); err != nil {
			r.closePorts()
			return nil, fmt.Errorf("%s/bfd: %w", b4Path, err)
		}
	}
	links[0].OnIPv6 = r.b.FromWAN
	links[1].OnIPv4 = r.b.FromLAN
	r.makeRunner(links, func(now time.Time) {
		r.b.Advance(now)
		if r.mon != nil {
			r.mon.Service(now)
		}
	})
	r.log = s.log.With("b4-address", cfg.Address, "wan-device", st.WANDev, "lan-device", st.LANDev,
		"aftrs", len(cfg.AFTRs), "discover", st.Discover, "bfd", st.BFD)
	return r, nil
}

// begin runs a built B4, and its discovery.
func (r *b4Run) begin(s *DSLiteSubsystem) {
	r.start()
	if r.setup.Discover {
		ctx, cancel := context.WithCancel(context.Background())
		prev := r.cancel
		r.cancel = func() { cancel(); prev() }
		r.wg.Add(1)
		go func() { defer r.wg.Done(); s.discoverLoop(ctx, r) }()
	}
	r.log.Info("dslite: B4 started")
}

// discoverLoop asks DHCPv6 for the AFTR name until it gets one, then again
// when the information refresh time says.
func (s *DSLiteSubsystem) discoverLoop(ctx context.Context, r *b4Run) {
	for ctx.Err() == nil {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := s.o.Discover(qctx, r.setup.WANDev)
		cancel()
		wait := 5 * time.Second
		if err != nil {
			s.log.Warn("dslite: AFTR discovery failed", "device", r.setup.WANDev, "err", err)
		} else {
			r.mu.Lock()
			r.discovered, r.aftrName = res.Addrs, res.Name
			r.mu.Unlock()
			r.b.SetDiscovered(res.Name, res.Addrs, time.Now())
			if r.mon != nil {
				if err := r.mon.Sync(time.Now()); err != nil {
					s.log.Warn("dslite: BFD to discovered AFTR", "err", err)
				}
			}
			wait = max(res.Refresh, 10*time.Minute)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

func (s *DSLiteSubsystem) failoverEvent(e dslite.FailoverEvent) {
	var leaves []events.Leaf
	if e.From.IsValid() {
		leaves = append(leaves, events.Leaf{Name: "from-aftr", Value: e.From.String()})
	}
	if e.To.IsValid() {
		leaves = append(leaves, events.Leaf{Name: "to-aftr", Value: e.To.String()})
	}
	leaves = append(leaves, events.Leaf{Name: "reason", Value: enumName(e.Reason.String())})
	to := ""
	if e.To.IsValid() {
		to = e.To.String()
	}
	p := &gpb.Path{Elem: []*gpb.PathElem{{Name: "softwire"}, {Name: "b4"}, {Name: "state"}, {Name: "active-aftr"}}}
	s.publish(events.Event{Time: e.Time, Kind: events.Notification, Module: "wirebeat-softwire", Name: "aftr-failover",
		Leaves: leaves, Updates: []events.Update{{Path: p, Value: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: to}}}}})
}

// State implements server.Subsystem.
func (s *DSLiteSubsystem) State(root *gen.Device, paths []*gpb.Path) error {
	s.mu.Lock()
	a, b := s.aftr, s.b4
	s.mu.Unlock()
	if a != nil && covers(paths, "softwire", "aftr") {
		a.state(root.GetOrCreateSoftwire().GetOrCreateAftr(), paths)
	}
	if b != nil && covers(paths, "softwire", "b4") {
		b.state(root.GetOrCreateSoftwire().GetOrCreateB4())
	}
	return nil
}

func u64(v uint64) *uint64 { return &v }
func u32(v int) *uint32    { x := uint32(v); return &x }

func (r *aftrRun) state(t *gen.WirebeatSoftwire_Softwire_Aftr, paths []*gpb.Path) {
	var c dslite.AFTRCounters
	var sessions, b4s int
	var infos []dslite.B4Info
	var pools []dslite.PoolUse
	wantB4s := covers(paths, "softwire", "aftr", "active-b4")
	r.runner.Do(func() {
		c, sessions, b4s = r.a.C, r.a.Sessions(), r.a.ActiveB4s()
		pools = r.a.Pools()
		if wantB4s {
			r.a.EachB4(func(i dslite.B4Info) bool { infos = append(infos, i); return true })
		}
	})
	k := t.GetOrCreateCounters()
	k.RcvdIpv4Packets, k.RcvdIpv4Bytes = u64(c.RcvdIPv4Packets), u64(c.RcvdIPv4Bytes)
	k.RcvdIpv6Packets, k.RcvdIpv6Bytes = u64(c.RcvdIPv6Packets), u64(c.RcvdIPv6Bytes)
	k.SentIpv4Packets, k.SentIpv4Bytes = u64(c.SentIPv4Packets), u64(c.SentIPv4Bytes)
	k.SentIpv6Packets, k.SentIpv6Bytes = u64(c.SentIPv6Packets), u64(c.SentIPv6Bytes)
	k.DroppedIpv6Packets = u64(c.DropBadSource + c.DropMalformed6 + c.DropUnknownProto6 + c.DropB4Limit)
	k.DroppedIpv4Packets = u64(c.DropMalformed4 + c.DropUnknownProto4 + c.DropTTLZero + c.DropTooBigDF + c.DropNoSession4 +
		c.DropSessionLimit + c.DropPortExhausted + c.DropNotForUs + c.DropBadChecksum)
	k.DroppedIpv4Fragments, k.DroppedIpv6Fragments = u64(c.DropFragments4), u64(c.DropFragments6)
	k.HairpinIpv4Packets, k.HairpinIpv4Bytes = u64(c.HairpinPackets), u64(c.HairpinBytes)
	k.ActiveSoftwireNum, k.NatSessions = u32(b4s), u32(sessions)
	k.NatSessionsCreated, k.NatSessionsExpired = u64(c.SessionsCreated), u64(c.SessionsExpired)
	k.DropSessionLimitPackets, k.DropPortExhaustedPackets = u64(c.DropSessionLimit), u64(c.DropPortExhausted)
	k.DropNoSessionIpv4Packets = u64(c.DropNoSession4)
	up := 0
	if r.mon != nil {
		r.mon.Each(func(_ netip.Addr, _ time.Time, in bfd.SessionInfo) {
			if in.LocalState == bfd.StateUp {
				up++
			}
		})
	}
	k.BfdSessionsUp = u32(up)
	for _, p := range pools {
		ps := t.GetOrCreateNat44().GetOrCreatePool(p.Prefix.String()).GetOrCreateState()
		ps.B4Count, ps.PortsInUse = u32(p.B4s), u32(p.Ports)
	}
	for _, i := range infos {
		e := t.GetOrCreateActiveB4(i.Addr.String())
		if i.External.IsValid() {
			e.ExternalAddress = str(i.External.String())
		}
		e.Sessions, e.PortsInUse = u32(i.Sessions), u32(i.PortsInUse)
		e.LastSeen = str(timeString(i.LastSeen))
		if r.mon != nil {
			if in, ok := r.mon.Session(i.Addr); ok {
				e.BfdState = stateOf(in.LocalState)
			}
		}
	}
}

func (r *b4Run) state(t *gen.WirebeatSoftwire_Softwire_B4) {
	var c dslite.B4Counters
	r.runner.Do(func() { c = r.b.C })
	k := t.GetOrCreateCounters()
	k.RcvdIpv4Packets, k.RcvdIpv4Bytes = u64(c.RcvdIPv4Packets), u64(c.RcvdIPv4Bytes)
	k.RcvdIpv6Packets, k.RcvdIpv6Bytes = u64(c.RcvdIPv6Packets), u64(c.RcvdIPv6Bytes)
	k.SentIpv6Packets, k.SentIpv6Bytes = u64(c.EncapPackets+c.BFDOut), u64(c.EncapBytes)
	k.SentIpv4Packets, k.SentIpv4Bytes = u64(c.DecapPackets), u64(c.DecapBytes)
	k.DroppedIpv4Packets = u64(c.DropNoAFTR + c.DropTTLZero + c.DropMalformed)
	k.DroppedIpv6Packets = u64(c.DropNotFromAFTR + c.DropFragments)
	st := t.GetOrCreateState()
	if a, ok := r.b.Active(); ok {
		st.ActiveAftr = str(a.String())
	}
	n, last := r.b.Failovers()
	st.FailoverCount = u32(int(n))
	if !last.IsZero() {
		st.LastFailoverTime = str(timeString(last))
	}
	r.mu.Lock()
	if r.aftrName != "" {
		st.AftrName = str(r.aftrName)
	}
	for _, a := range r.discovered {
		st.DiscoveredAddress = append(st.DiscoveredAddress, a.String())
	}
	r.mu.Unlock()
	for _, in := range r.b.AFTRs() {
		if !in.Configured {
			continue // discovered only: listed in state/discovered-address
		}
		as := t.GetOrCreateAftr(in.Addr.String()).GetOrCreateState()
		as.Status = gen.E_WirebeatSoftwire_AftrStatus([]int{3, 1, 2}[in.Status])
		as.LastStatusChange = str(timeString(in.LastStatusChange))
		d := in.Discovered
		as.Discovered = &d
		if r.mon != nil {
			if si, ok := r.mon.Session(in.Addr); ok {
				as.BfdState = stateOf(si.LocalState)
			}
		}
	}
}

// softwireSessions reports the BFD sessions inside softwires for
// /bfd/softwire: configured session entries that match one of ours, and
// the AFTR's dynamic sessions.
func (s *DSLiteSubsystem) softwireSessions() []bfdadapter.SoftwireSession {
	s.mu.Lock()
	a, b, cfg := s.aftr, s.b4, s.swConfig
	s.mu.Unlock()
	var out []bfdadapter.SoftwireSession
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		c := cfg[k]
		b4, err := netip.ParseAddr(k)
		if err != nil {
			continue
		}
		switch c.Role {
		case gen.WirebeatBfd_Bfd_Softwire_Session_Role_b4:
			if b == nil || b.mon == nil || b.b.Address() != b4 {
				continue
			}
			aftr, err := netip.ParseAddr(c.GetAftrAddress())
			if err != nil {
				continue
			}
			if in, ok := b.mon.Session(aftr); ok {
				out = append(out, bfdadapter.SoftwireSession{Role: "b4", B4: b4, AFTR: aftr,
					InnerLocal: dslite.B4InnerAddress, InnerRemote: dslite.AFTRInnerAddress, Info: in})
			}
		case gen.WirebeatBfd_Bfd_Softwire_Session_Role_aftr:
			if a == nil || a.mon == nil {
				continue
			}
			if in, ok := a.mon.Session(b4); ok {
				out = append(out, bfdadapter.SoftwireSession{Role: "aftr", B4: b4, AFTR: a.setup.Engine.TunnelEndpoint,
					InnerLocal: dslite.AFTRInnerAddress, InnerRemote: dslite.B4InnerAddress, Info: in})
			}
		}
	}
	if a != nil && a.mon != nil {
		a.mon.Each(func(b4 netip.Addr, created time.Time, in bfd.SessionInfo) {
			out = append(out, bfdadapter.SoftwireSession{Role: "aftr", Dynamic: true, B4: b4, AFTR: a.setup.Engine.TunnelEndpoint,
				InnerLocal: dslite.AFTRInnerAddress, InnerRemote: dslite.B4InnerAddress, Created: created, Info: in})
		})
	}
	return out
}
