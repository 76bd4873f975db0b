package softwire

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

// OpenLink opens the packet interface of a device.
type OpenLink func(device string) (Link, error)

// LwaftrSubsystem is the adapter between /softwire/lwaftr and the data
// plane: it validates the configuration, runs an engine while the lwAFTR
// is enabled, applies binding-table edits to the running engine entry by
// entry, and renders counters into the tree.
type LwaftrSubsystem struct {
	log        *slog.Logger
	open       OpenLink
	openDriver OpenDriverLink
	// DeviceMAC returns a device's hardware address, for sides without a
	// configured mac.
	deviceMAC func(string) ([6]byte, error)

	mu   sync.Mutex
	run  *runner
	sink events.Sink
	// fo is the running failover handling (nil in mode none).
	fo *failoverRun

	// splits is the port-set split of each address of the committed
	// binding table, with the number of softwires using it: with it, a
	// commit that edits a few entries of a large table is checked by
	// looking at those entries only.
	splits map[uint32]split
	// pending is what the last Prepare built, until Abort or Apply.
	pending *prepared
	// draining is a disabled lwAFTR still forwarding for its
	// drain-period, out of service, after the commit that disabled it.
	draining *drainingRun
}

// drainingRun is an engine and its failover handling taken out of
// service, stopped when the drain-period ends (or at once when cut:
// the lwAFTR is started again).
type drainingRun struct {
	run  *runner
	fo   *failoverRun
	cut  chan struct{}
	done chan struct{} // closed once both are stopped
}

type split struct {
	ps    bindingtable.PortSet
	count int
}

// LwaftrOptions configure a LwaftrSubsystem.
type LwaftrOptions struct {
	Log *slog.Logger
	// Open opens a device's link: pktio.Open on a live system, pipes
	// in tests.
	Open OpenLink
	// OpenDriver, when set, is used instead of Open with the driver each
	// side's packet-io/driver names.
	OpenDriver OpenDriverLink
}

// NewLwaftrSubsystem makes the adapter; Close stops its engine.
func NewLwaftrSubsystem(o LwaftrOptions) *LwaftrSubsystem {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	open := o.Open
	if o.OpenDriver != nil {
		open = nil
	}
	return &LwaftrSubsystem{log: o.Log, open: open, openDriver: o.OpenDriver, deviceMAC: interfaceMAC, sink: events.Discard{}, splits: map[uint32]split{}}
}

func interfaceMAC(dev string) ([6]byte, error) {
	var m [6]byte
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return m, err
	}
	if len(ifi.HardwareAddr) != 6 {
		return m, fmt.Errorf("%s has no Ethernet address", dev)
	}
	copy(m[:], ifi.HardwareAddr)
	return m, nil
}

// Name is "softwire-lwaftr".
func (s *LwaftrSubsystem) Name() string { return "softwire-lwaftr" }

// Attach sets the sink for the engine's events.
func (s *LwaftrSubsystem) Attach(sink events.Sink) { s.sink = sink }

// Owns is /softwire/lwaftr (the DS-Lite AFTR and B4 are the DS-Lite
// subsystem's).
func (s *LwaftrSubsystem) Owns() []*gpb.Path {
	return []*gpb.Path{swPath(pe("lwaftr"))}
}

func pe(name string) *gpb.PathElem { return &gpb.PathElem{Name: name} }

func swPath(elems ...*gpb.PathElem) *gpb.Path {
	return &gpb.Path{Elem: append([]*gpb.PathElem{pe("softwire")}, elems...)}
}

// bindingPath is the tree path of one softwire of the binding table.
func bindingPath(ipv4 string, psid uint16) *gpb.Path {
	return swPath(pe("lwaftr"), pe("binding-table"), &gpb.PathElem{Name: "softwire",
		Key: map[string]string{"ipv4": ipv4, "psid": strconv.FormatUint(uint64(psid), 10)}})
}

func enabled(dev *gen.Device) bool {
	return dev.GetSoftwire().GetLwaftr().GetEnabled()
}

// engine plans of a prepared commit.
const (
	planKeep    = iota // nothing changes in the engine (bindings only, none running)
	planStop           // the lwAFTR is disabled
	planStart          // a new engine replaces the running one (or none)
	planChanges        // binding edits to the running engine
)

// prepared is what Prepare computed and opened for the commit under way.
type prepared struct {
	cs    *schema.ChangeSet
	delta bindingDelta
	plan  int
	start *engineParts // planStart: built, links open, nothing running
	fo    *failoverRun // planStart with failover: store open, managers made
}

// engineParts is an engine's configuration, table and open links, ready
// to start.
type engineParts struct {
	cfg   lwaftr.Config
	bt    *bindingtable.Table
	links [2]Link
	// more are the links of workers 2..n (see workers).
	more [][2]Link
}

func (e *engineParts) closeLinks() {
	for _, ls := range append([][2]Link{e.links}, e.more...) {
		ls[0].Close()
		if !e.cfg.OnAStick {
			ls[1].Close()
		}
	}
}

// Prepare checks the commit's binding-table changes against the port-set
// split of each address (looking at the changed entries only), the
// settings of an enabled lwAFTR, and when the engine must (re)start builds
// its table and opens its links without forwarding on them, so that Apply
// cannot fail.
func (s *LwaftrSubsystem) Prepare(cs *schema.ChangeSet) error {
	cand := cs.New
	d, settings, err := deltaOf(cs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := checkDelta(d, s.splits); err != nil {
		return err
	}
	p := &prepared{cs: cs, delta: d}
	switch {
	case !enabled(cand):
		p.plan = planKeep
		if s.run != nil {
			p.plan = planStop
		}
	case s.run != nil && (!settings || serviceOnly(cs)):
		// Bindings, or only failover/out-of-service and drain-period:
		// the running engine stays.
		p.plan = planChanges
	default:
		if err := checkSettings(cand); err != nil {
			return err
		}
		if p.start, err = s.build(cand); err != nil {
			return err
		}
		if p.fo, err = buildFailover(s.log, cand, p.start.workerCount(), s.sink); err != nil {
			p.start.closeLinks()
			return err
		}
		p.plan = planStart
	}
	s.pending = p
	return nil
}

// checkSettings checks an enabled lwAFTR's settings: addresses, next hops
// and devices.
func checkSettings(cand *gen.Device) error {
	lw := cand.GetSoftwire().GetLwaftr()
	cfg, _, err := LwaftrConfig(withoutBindings(cand))
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return schema.Errorf(schema.TagInvalidValue, swPath(pe("lwaftr")), "%v", err)
	}
	if lw.GetInternalInterface().GetDevice() == "" {
		return schema.Errorf(schema.TagDataMissing, swPath(pe("lwaftr"), pe("internal-interface"), pe("device")), "internal-interface/device: required when enabled")
	}
	if !cfg.OnAStick && lw.GetExternalInterface().GetDevice() == "" {
		return schema.Errorf(schema.TagDataMissing, swPath(pe("lwaftr"), pe("external-interface"), pe("device")), "external-interface/device: required unless on-a-stick")
	}
	return nil
}

func withoutBindings(d *gen.Device) *gen.Device {
	lw := d.GetSoftwire().GetLwaftr()
	if lw == nil {
		return d
	}
	c := *lw
	c.BindingTable = nil
	return &gen.Device{Softwire: &gen.WirebeatSoftwire_Softwire{Lwaftr: &c}}
}

// Abort closes what Prepare opened.
func (s *LwaftrSubsystem) Abort(cs *schema.ChangeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pending; p != nil && p.cs == cs {
		if p.start != nil {
			p.start.closeLinks()
		}
		if p.fo != nil {
			p.fo.close()
		}
		s.pending = nil
	}
}

// Apply carries out the prepared plan: binding edits go to the live table
// between batches, a settings change swaps in the engine Prepare built.
func (s *LwaftrSubsystem) Apply(cs *schema.ChangeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending
	s.pending = nil
	if p == nil || p.cs != cs {
		s.log.Error("lwaftr: Apply without Prepare; configuration not applied")
		return
	}
	switch p.plan {
	case planStop:
		s.drainAway()
	case planStart:
		s.endDrain()
		s.stopRun(false)
		var opts []runnerOption
		if p.fo != nil {
			opts = append(opts, withUnknownSources(p.fo.sources()))
		}
		// The configuration was validated in Prepare, the only thing
		// that can fail here.
		r, err := startWorkers(s.log, p.start.cfg, p.start.bt, append([][2]Link{p.start.links}, p.start.more...), opts...)
		if err != nil {
			s.log.Error("lwaftr: start failed after Prepare", "err", err)
			p.start.closeLinks()
			if p.fo != nil {
				p.fo.close()
			}
			break
		}
		s.run = r
		if p.fo != nil {
			p.fo.start(r.shared, r.poke)
			s.fo = p.fo
		}
		s.log.Info("lwaftr started", "softwires", p.start.bt.Len())
	case planChanges:
		// Removals first, so an address whose split changes is emptied
		// before it is filled again.
		chs := make([]bindingChange, 0, len(p.delta.removed)+len(p.delta.added))
		for _, b := range p.delta.removed {
			chs = append(chs, bindingChange{ipv4: b.IPv4, psid: b.PSID})
		}
		for _, b := range p.delta.added {
			chs = append(chs, bindingChange{add: true, sw: b})
		}
		if s.fo != nil {
			s.fo.applyService(cs.New)
		}
		if err := s.run.change(chs); err != nil {
			// Prepare checked every added entry against the table's
			// rules; this is a bug, and running says what should be.
			s.log.Error("lwaftr: binding change failed after Prepare", "err", err)
		}
	}
	applySplitDelta(s.splits, p.delta)
}

// build makes the table and engine of a configuration and opens its
// links; the runner forwards nothing until started.
func (s *LwaftrSubsystem) build(dev *gen.Device) (*engineParts, error) {
	cfg, bindings, err := LwaftrConfig(dev)
	if err != nil {
		return nil, schema.Errorf(schema.TagInvalidValue, swPath(pe("lwaftr")), "%v", err)
	}
	lw := dev.GetSoftwire().GetLwaftr()
	devs := [2]string{lw.GetExternalInterface().GetDevice(), lw.GetInternalInterface().GetDevice()}
	sides := [2]string{"external-interface", "internal-interface"}
	if cfg.OnAStick {
		devs[0], sides[0] = devs[1], sides[1]
	}
	for i, side := range []*lwaftr.Side{&cfg.External, &cfg.Internal} {
		if side.MAC == ([6]byte{}) {
			if side.MAC, err = s.deviceMAC(devs[i]); err != nil {
				return nil, schema.Errorf(schema.TagResourceDenied, swPath(pe("lwaftr"), pe(sides[i]), pe("device")), "mac of %s: %v", devs[i], err)
			}
		}
	}
	bt, err := lwaftr.NewTable(bindings)
	if err != nil {
		return nil, schema.Errorf(schema.TagInvalidValue, swPath(pe("lwaftr"), pe("binding-table")), "%v", err)
	}
	parts := &engineParts{cfg: cfg, bt: bt}
	if err := s.openWorkerLinks(parts, lw, devs, sides); err != nil {
		return nil, err
	}
	return parts, nil
}

// State renders counters, softwire-count and the
// resolved next-hop MACs, read from the engine in one snapshot.
func (s *LwaftrSubsystem) State(root *gen.Device, _ []*gpb.Path) error {
	s.mu.Lock()
	r, fo := s.run, s.fo
	if r == nil && s.draining != nil {
		r, fo = s.draining.run, s.draining.fo
	}
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	snap := r.snapshot()
	lw := root.GetOrCreateSoftwire().GetOrCreateLwaftr()
	n := uint32(snap.Bindings)
	lw.GetOrCreateBindingTable().SoftwireCount = &n
	fillCounters(lw.GetOrCreateCounters(), &snap.C)
	if snap.NHKnown[lwaftr.External] {
		m := net.HardwareAddr(snap.NHMAC[lwaftr.External][:]).String()
		lw.GetOrCreateExternalInterface().GetOrCreateNextHop().ResolvedMac = &m
	}
	if snap.NHKnown[lwaftr.Internal] {
		m := net.HardwareAddr(snap.NHMAC[lwaftr.Internal][:]).String()
		lw.GetOrCreateInternalInterface().GetOrCreateNextHop().ResolvedMac = &m
	}
	fillPacketIO(lw, &snap)
	if fo != nil {
		fo.fillState(lw)
	}
	return nil
}

// Close stops the engine.
func (s *LwaftrSubsystem) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending != nil && s.pending.start != nil {
		s.pending.start.closeLinks()
	}
	if s.pending != nil && s.pending.fo != nil {
		s.pending.fo.close()
	}
	s.pending = nil
	s.stopRun(true)
	if d := s.draining; d != nil {
		// Shutting down honours a drain a commit began.
		s.mu.Unlock()
		<-d.done
		s.mu.Lock()
	}
	return nil
}

// drainAway stops the running lwAFTR for a commit that disables it: out
// of service at once and, with a drain-period, forwarding on for that
// long in the background, so that the commit (and the commits after it)
// do not wait for the drain.
func (s *LwaftrSubsystem) drainAway() {
	if s.fo == nil || s.fo.drain <= 0 || s.run == nil {
		s.stopRun(false)
		return
	}
	s.endDrain()
	d := &drainingRun{run: s.run, fo: s.fo, cut: make(chan struct{}), done: make(chan struct{})}
	s.run, s.fo, s.draining = nil, nil, d
	d.fo.setInService(false)
	period := d.fo.drain
	s.log.Info("lwaftr: disabled; out of service, draining before stopping", "drain-period", period)
	go func() {
		t := time.NewTimer(period)
		select {
		case <-t.C:
			s.log.Info("lwaftr: drain period over; stopped")
		case <-d.cut:
			t.Stop()
			s.log.Info("lwaftr: drain cut short: the lwAFTR starts again")
		}
		d.run.close()
		d.fo.close()
		close(d.done)
		s.mu.Lock()
		if s.draining == d {
			s.draining = nil
		}
		s.mu.Unlock()
	}()
}

// endDrain stops a draining lwAFTR at once (before another starts on the
// same devices) and waits until it has. Called with s.mu held.
func (s *LwaftrSubsystem) endDrain() {
	d := s.draining
	if d == nil {
		return
	}
	close(d.cut)
	<-d.done
	s.draining = nil
}

// stopRun stops the engine and its failover handling. Out of service
// first: the engine stops answering neighbour discovery for the anycast
// address and takes over no B4 while it winds down; with drain (the
// element is shutting down) it keeps forwarding for
// failover/drain-period first, so the router can move the anycast
// traffic away. A commit that disables the lwAFTR drains in the
// background instead (drainAway).
func (s *LwaftrSubsystem) stopRun(drain bool) {
	if s.fo != nil {
		s.fo.setInService(false)
		if d := s.fo.drain; drain && d > 0 && s.run != nil {
			s.log.Info("lwaftr: out of service, draining before stopping", "drain-period", d)
			// State stays readable meanwhile (in-service false); the
			// commit pipeline runs one Apply at a time.
			s.mu.Unlock()
			time.Sleep(d)
			s.mu.Lock()
		}
	}
	if s.run != nil {
		s.run.close()
		s.run = nil
	}
	if s.fo != nil {
		s.fo.close()
		s.fo = nil
	}
}
