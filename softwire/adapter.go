package softwire

import (
	"fmt"
	"log/slog"
	"net"
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
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
	log  *slog.Logger
	open OpenLink
	// DeviceMAC returns a device's hardware address, for sides without a
	// configured mac.
	deviceMAC func(string) ([6]byte, error)

	mu   sync.Mutex
	run  *runner
	sink events.Sink

	// cur is the configuration last applied, splits the port-set split
	// of each of its addresses with the number of softwires using it. With
	// them, a commit that edits a few entries of a large table is checked
	// and applied by looking at those entries only.
	cur    *gen.Device
	splits map[uint32]split
}

type split struct {
	ps    bindingtable.PortSet
	count int
}

// NewLwaftrSubsystem makes the adapter; open opens a device's link
// (afpacket.Open on a live system).
func NewLwaftrSubsystem(log *slog.Logger, open OpenLink) *LwaftrSubsystem {
	return &LwaftrSubsystem{log: log, open: open, deviceMAC: interfaceMAC, sink: events.Discard{}}
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

// Name implements server.Subsystem.
func (s *LwaftrSubsystem) Name() string { return "softwire-lwaftr" }

// Attach implements server.Subsystem.
func (s *LwaftrSubsystem) Attach(sink events.Sink) { s.sink = sink }

func enabled(dev *gen.Device) bool {
	return dev.GetSoftwire().GetLwaftr().GetEnabled()
}

// Validate implements server.Subsystem: the port sets of each address
// agree, PSIDs fit their length, filters compile, and an enabled lwAFTR
// has its addresses, next hops and devices.
func (s *LwaftrSubsystem) Validate(cand *gen.Device) error {
	lw := cand.GetSoftwire().GetLwaftr()
	if lw == nil {
		return nil
	}
	s.mu.Lock()
	cur, splits := s.cur, s.splits
	s.mu.Unlock()
	if d, ok := diffBindings(cur, cand); ok {
		if err := checkDelta(d, splits); err != nil {
			return err
		}
	} else if err := validateBindings(lw.GetBindingTable()); err != nil {
		return err
	}
	if !lw.GetEnabled() {
		return nil
	}
	cfg, _, err := LwaftrConfig(withoutBindings(cand))
	if err != nil {
		return fmt.Errorf("/softwire/lwaftr: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("/softwire/lwaftr: %w", err)
	}
	if lw.GetInternalInterface().GetDevice() == "" {
		return fmt.Errorf("/softwire/lwaftr/internal-interface/device: required when enabled")
	}
	if !cfg.OnAStick && lw.GetExternalInterface().GetDevice() == "" {
		return fmt.Errorf("/softwire/lwaftr/external-interface/device: required unless on-a-stick")
	}
	return nil
}

// validateBindings checks every entry and the port-set agreement per
// address in one pass.
func validateBindings(bt *gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable) error {
	if bt == nil {
		return nil
	}
	split := make(map[uint32]bindingtable.PortSet, len(bt.Softwire)/8)
	for k, sw := range bt.Softwire {
		b, err := Binding(sw)
		if err != nil {
			return fmt.Errorf("/softwire/lwaftr/binding-table/softwire[ipv4=%s][psid=%d]: %w", k.Ipv4, k.Psid, err)
		}
		if b.PortSet.Length < 16 && b.PSID>>b.PortSet.Length != 0 {
			return fmt.Errorf("/softwire/lwaftr/binding-table/softwire[ipv4=%s][psid=%d]: psid does not fit in psid-length %d", k.Ipv4, k.Psid, b.PortSet.Length)
		}
		if ps, ok := split[b.IPv4]; ok && ps != b.PortSet {
			return fmt.Errorf("/softwire/lwaftr/binding-table/softwire[ipv4=%s][psid=%d]: port-set differs from another softwire of %s: every softwire of an address must split its ports the same way", k.Ipv4, k.Psid, k.Ipv4)
		}
		split[b.IPv4] = b.PortSet
	}
	return nil
}

// settingsEqual reports whether everything but the binding table is the
// same, in which case a commit only edits bindings.
func settingsEqual(a, b *gen.Device) bool {
	ca, _, ea := LwaftrConfig(withoutBindings(a))
	cb, _, eb := LwaftrConfig(withoutBindings(b))
	if ea != nil || eb != nil {
		return false
	}
	la, lb := a.GetSoftwire().GetLwaftr(), b.GetSoftwire().GetLwaftr()
	return fmt.Sprint(ca) == fmt.Sprint(cb) &&
		la.GetInternalInterface().GetDevice() == lb.GetInternalInterface().GetDevice() &&
		la.GetExternalInterface().GetDevice() == lb.GetExternalInterface().GetDevice()
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

// Apply implements server.Subsystem. With only binding-table edits and a
// running engine, the changed entries are applied to the live table
// between batches; any other change restarts the engine.
func (s *LwaftrSubsystem) Apply(old, new *gen.Device) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.applyEngine(old, new); err != nil {
		return err
	}
	s.trackSplits(old, new)
	return nil
}

func (s *LwaftrSubsystem) applyEngine(old, new *gen.Device) error {
	if !enabled(new) {
		if s.run != nil {
			s.run.close()
			s.run = nil
		}
		return nil
	}
	if s.run != nil && enabled(old) && settingsEqual(old, new) {
		return s.applyBindings(old, new)
	}
	r, err := s.start(new)
	if err != nil {
		return err
	}
	if s.run != nil {
		s.run.close()
	}
	s.run = r
	return nil
}

// trackSplits moves cur and splits from old to new.
func (s *LwaftrSubsystem) trackSplits(old, new *gen.Device) {
	d, ok := diffBindings(s.cur, new)
	if !ok || d.err != nil || s.splits == nil {
		s.splits = map[uint32]split{}
		for _, sw := range softwires(new) {
			if b, err := Binding(sw); err == nil {
				sp := s.splits[b.IPv4]
				s.splits[b.IPv4] = split{ps: b.PortSet, count: sp.count + 1}
			}
		}
	} else {
		applySplitDelta(s.splits, d)
	}
	s.cur = new
}

// applyBindings sends the difference between two binding tables to the
// running engine.
func (s *LwaftrSubsystem) applyBindings(old, new *gen.Device) error {
	d, ok := diffBindings(old, new)
	if !ok {
		d = fullDiff(old, new)
	}
	if d.err != nil {
		return d.err
	}
	// Removals first, so an address whose split changes is emptied before
	// it is filled again.
	chs := make([]bindingChange, 0, len(d.removed)+len(d.added))
	for _, b := range d.removed {
		chs = append(chs, bindingChange{ipv4: b.IPv4, psid: b.PSID})
	}
	for _, b := range d.added {
		chs = append(chs, bindingChange{add: true, sw: b})
	}
	if err := s.run.change(chs); err != nil {
		undo := make([]bindingChange, 0, len(chs))
		for _, b := range d.added {
			undo = append(undo, bindingChange{ipv4: b.IPv4, psid: b.PSID})
		}
		for _, b := range d.removed {
			undo = append(undo, bindingChange{add: true, sw: b})
		}
		_ = s.run.change(undo)
		return fmt.Errorf("/softwire/lwaftr/binding-table: %w", err)
	}
	return nil
}

func softwires(d *gen.Device) map[gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire_Key]*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire {
	if bt := d.GetSoftwire().GetLwaftr().GetBindingTable(); bt != nil {
		return bt.Softwire
	}
	return nil
}

// start builds a table and an engine for a configuration and opens its
// links.
func (s *LwaftrSubsystem) start(dev *gen.Device) (*runner, error) {
	cfg, bindings, err := LwaftrConfig(dev)
	if err != nil {
		return nil, err
	}
	lw := dev.GetSoftwire().GetLwaftr()
	devs := [2]string{lw.GetExternalInterface().GetDevice(), lw.GetInternalInterface().GetDevice()}
	if cfg.OnAStick {
		devs[0] = devs[1]
	}
	for i, side := range []*lwaftr.Side{&cfg.External, &cfg.Internal} {
		if side.MAC == ([6]byte{}) {
			if side.MAC, err = s.deviceMAC(devs[i]); err != nil {
				return nil, fmt.Errorf("/softwire/lwaftr: mac of %s: %w", devs[i], err)
			}
		}
	}
	bt, err := lwaftr.NewTable(bindings)
	if err != nil {
		return nil, fmt.Errorf("/softwire/lwaftr/binding-table: %w", err)
	}
	var links [2]Link
	for i, d := range devs {
		if i == 1 && cfg.OnAStick {
			links[1] = links[0]
			break
		}
		if links[i], err = s.open(d); err != nil {
			for _, l := range links[:i] {
				l.Close()
			}
			return nil, fmt.Errorf("/softwire/lwaftr: open %s: %w", d, err)
		}
	}
	r, err := startRunner(s.log, cfg, bt, links)
	if err != nil {
		links[0].Close()
		if !cfg.OnAStick {
			links[1].Close()
		}
		return nil, err
	}
	s.log.Info("lwaftr started", "softwires", bt.Len(), "external", devs[0], "internal", devs[1])
	return r, nil
}

// State implements server.Subsystem: counters, softwire-count and the
// resolved next-hop MACs, read from the engine in one snapshot.
func (s *LwaftrSubsystem) State(root *gen.Device, _ []*gpb.Path) error {
	s.mu.Lock()
	r := s.run
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
	return nil
}

// Close stops the engine.
func (s *LwaftrSubsystem) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		s.run.close()
		s.run = nil
	}
	return nil
}
