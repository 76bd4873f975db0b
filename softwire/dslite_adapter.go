package softwire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/bfd"
	bfdadapter "github.com/wirebeat/wirebeat/bfd/adapter"
	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire/aftrname"
	"github.com/wirebeat/wirebeat/softwire/dslite"
)

// DSLitePort is a packet interface the DS-Lite engines run on.
type DSLitePort interface {
	dslite.Port
	Close() error
}

// DSLiteOptions configure the DS-Lite subsystem; zero fields get the
// live system's behaviour.
type DSLiteOptions struct {
	Log *slog.Logger
	// Open opens a device's packet interface (required to run an engine).
	Open func(device string) (DSLitePort, error)
	// DeviceMAC returns a device's Ethernet address.
	DeviceMAC func(device string) ([6]byte, error)
	// WANAddress returns the global IPv6 address of a device, for a B4
	// without b4-address.
	WANAddress func(device string) (netip.Addr, error)
	// Discover learns the AFTR by DHCPv6 AFTR-Name on a device.
	Discover func(ctx context.Context, device string) (aftrname.Result, error)
}

// DSLiteSubsystem is the adapter of the DS-Lite AFTR (/softwire/aftr) and
// B4 (/softwire/b4): it validates their configuration, runs an engine for
// each while enabled (with BFD inside the softwires), renders their state
// and publishes port-block, aftr-failover and b4-unreachable.
//
// A change of an engine's configuration restarts that engine: its NAT
// sessions and BFD sessions start afresh.
type DSLiteSubsystem struct {
	o    DSLiteOptions
	log  *slog.Logger
	sink atomic.Pointer[sinkBox]

	mu       sync.Mutex
	aftr     *aftrRun
	b4       *b4Run
	swConfig map[string]*gen.WirebeatBfd_Bfd_Softwire_Session // /bfd/softwire/session of the running config
	plan     *plan
}

type sinkBox struct{ events.Sink }

// NewDSLiteSubsystem makes the adapter.
func NewDSLiteSubsystem(o DSLiteOptions) *DSLiteSubsystem {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.DeviceMAC == nil {
		o.DeviceMAC = interfaceMAC
	}
	if o.WANAddress == nil {
		o.WANAddress = globalIPv6
	}
	if o.Discover == nil {
		o.Discover = aftrname.Discover
	}
	s := &DSLiteSubsystem{o: o, log: o.Log}
	bfdadapter.SetSoftwireSessions(s.softwireSessions)
	return s
}

func globalIPv6(dev string) (netip.Addr, error) {
	ifc, err := net.InterfaceByName(dev)
	if err != nil {
		return netip.Addr{}, err
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Is6() && !ip.Is4In6() && ip.IsGlobalUnicast() {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no global IPv6 address", dev)
}

// Name implements server.Subsystem.
func (s *DSLiteSubsystem) Name() string { return "softwire-dslite" }

// Attach implements server.Subsystem.
func (s *DSLiteSubsystem) Attach(sink events.Sink) { s.sink.Store(&sinkBox{sink}) }

func (s *DSLiteSubsystem) publish(e events.Event) {
	if b := s.sink.Load(); b != nil && b.Sink != nil {
		b.Publish(e)
	}
}

// Owns is /softwire/aftr and /softwire/b4, plus the parts of /bfd they
// use: the profiles they name and /bfd/softwire, whose sessions run here.
func (s *DSLiteSubsystem) Owns() []*gpb.Path {
	p := func(names ...string) *gpb.Path {
		q := &gpb.Path{}
		for _, n := range names {
			q.Elem = append(q.Elem, &gpb.PathElem{Name: n})
		}
		return q
	}
	return []*gpb.Path{p("softwire", "aftr"), p("softwire", "b4"), p("bfd", "profiles"), p("bfd", "softwire")}
}

// validate checks what the engines need of cand.
func (s *DSLiteSubsystem) validate(cand *gen.Device) error {
	if cand.GetSoftwire().GetAftr().GetEnabled() {
		a, err := aftrSetupOf(cand)
		if err != nil {
			return err
		}
		if a.BFD {
			if _, err := bfdadapter.ProfileSessionConfig(cand, a.BFDProfile); err != nil {
				return fmt.Errorf("%s/bfd/profile: %w", aftrPath, err)
			}
		}
	}
	if cand.GetSoftwire().GetB4().GetEnabled() {
		b, err := b4SetupOf(cand)
		if err != nil {
			return err
		}
		if b.BFD {
			if _, err := bfdadapter.ProfileSessionConfig(cand, b.BFDProfile); err != nil {
				return fmt.Errorf("%s/bfd/profile: %w", b4Path, err)
			}
		}
	}
	return nil
}

// relevant is what an engine's configuration consists of: its subtree
// and the BFD profile it refers to.
func relevantAFTR(d *gen.Device) []any {
	c := d.GetSoftwire().GetAftr()
	return []any{c, d.GetBfd().GetProfiles().GetProfile(c.GetBfd().GetProfile())}
}

func relevantB4(d *gen.Device) []any {
	c := d.GetSoftwire().GetB4()
	return []any{c, d.GetBfd().GetProfiles().GetProfile(c.GetBfd().GetProfile())}
}

// plan is what Prepare built for Apply: engines to start in place of the
// running ones (nil with change set: stop without a successor).
type plan struct {
	cs                   *schema.ChangeSet
	aftrChange, b4Change bool
	aftr                 *aftrRun
	b4                   *b4Run
}

// Prepare implements server.Subsystem: it validates the configuration
// and, for an engine whose configuration changed, builds the new engine
// and opens its ports without running them, so that Apply cannot fail.
func (s *DSLiteSubsystem) Prepare(cs *schema.ChangeSet) error {
	if err := s.validate(cs.New); err != nil {
		return asPathError(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, nw := cs.Old, cs.New
	if old == nil {
		old = &gen.Device{}
	}
	p := &plan{cs: cs}
	p.aftrChange = !reflect.DeepEqual(relevantAFTR(old), relevantAFTR(nw)) || (s.aftr == nil) != !nw.GetSoftwire().GetAftr().GetEnabled()
	p.b4Change = !reflect.DeepEqual(relevantB4(old), relevantB4(nw)) || (s.b4 == nil) != !nw.GetSoftwire().GetB4().GetEnabled()
	var err error
	if p.aftrChange && nw.GetSoftwire().GetAftr().GetEnabled() {
		if p.aftr, err = s.buildAFTR(nw); err != nil {
			return asPathError(err)
		}
	}
	if p.b4Change && nw.GetSoftwire().GetB4().GetEnabled() {
		if p.b4, err = s.buildB4(nw); err != nil {
			if p.aftr != nil {
				p.aftr.closePorts()
			}
			return asPathError(err)
		}
	}
	s.plan = p
	return nil
}

// asPathError makes an error of the adapter's "/path: message" form a
// schema error with that path, so NETCONF reports error-path.
func asPathError(err error) error {
	var se *schema.Error
	if err == nil || errors.As(err, &se) {
		return err
	}
	msg := err.Error()
	if len(msg) > 0 && msg[0] == '/' {
		if i := strings.Index(msg, ": "); i > 0 {
			if p, perr := ygot.StringToStructuredPath(msg[:i]); perr == nil {
				return schema.Errorf(schema.TagInvalidValue, p, "%s", msg[i+2:])
			}
		}
	}
	return err
}

// Abort implements server.Subsystem: the engines Prepare built go.
func (s *DSLiteSubsystem) Abort(cs *schema.ChangeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.plan; p != nil && p.cs == cs {
		if p.aftr != nil {
			p.aftr.closePorts()
		}
		if p.b4 != nil {
			p.b4.closePorts()
		}
		s.plan = nil
	}
}

// Apply implements server.Subsystem: engines whose configuration changed
// are stopped and their successors started.
func (s *DSLiteSubsystem) Apply(cs *schema.ChangeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plan
	s.plan = nil
	if p == nil || p.cs != cs {
		s.log.Error("dslite: Apply without its Prepare")
		return
	}
	if p.aftrChange {
		if s.aftr != nil {
			s.aftr.stop()
		}
		s.aftr = p.aftr
		if s.aftr != nil {
			s.aftr.begin()
		}
	}
	if p.b4Change {
		if s.b4 != nil {
			s.b4.stop()
		}
		s.b4 = p.b4
		if s.b4 != nil {
			s.b4.begin(s)
		}
	}
	if sw := cs.New.GetBfd().GetSoftwire(); sw != nil {
		s.swConfig = sw.Session
	} else {
		s.swConfig = nil
	}
}

// Close stops the engines.
func (s *DSLiteSubsystem) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aftr != nil {
		s.aftr.stop()
		s.aftr = nil
	}
	if s.b4 != nil {
		s.b4.stop()
		s.b4 = nil
	}
	return nil
}

// engineRun is what both engines run on: ports, a runner, a BFD engine.
type engineRun struct {
	ports  []DSLitePort
	runner *dslite.Runner
	beng   *bfd.Engine
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (r *engineRun) stop() {
	r.cancel()
	r.wg.Wait()
	r.closePorts()
}

func (r *engineRun) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.runner.Run(ctx) }()
	go func() { defer r.wg.Done(); r.beng.Run(ctx) }()
}

// openLinks opens the two devices of an engine (one port when both are
// the same: one link then answers for both sides) and makes their links.
func (s *DSLiteSubsystem) openLinks(r *engineRun, devs [2]string, cfgs [2]dslite.LinkConfig) ([2]*dslite.Link, error) {
	var links [2]*dslite.Link
	if s.o.Open == nil {
		return links, errors.New("no packet I/O in this build")
	}
	if devs[0] == devs[1] {
		c := cfgs[0]
		c.IPv4, c.Gateway4 = cfgs[1].IPv4, cfgs[1].Gateway4
		c.IPv6 = append(c.IPv6, cfgs[1].IPv6...)
		if !c.Gateway6.IsValid() {
			c.Gateway6 = cfgs[1].Gateway6
		}
		cfgs[0] = c
		devs[1] = ""
	}
	for i, dev := range devs {
		if dev == "" {
			links[i] = links[0]
			continue
		}
		mac, err := s.o.DeviceMAC(dev)
		if err != nil {
			r.closePorts()
			return links, fmt.Errorf("device %s: %w", dev, err)
		}
		cfgs[i].MAC = mac
		p, err := s.o.Open(dev)
		if err != nil {
			r.closePorts()
			return links, fmt.Errorf("device %s: %w", dev, err)
		}
		r.ports = append(r.ports, p)
		links[i] = dslite.NewLink(cfgs[i], p)
	}
	return links, nil
}

func (r *engineRun) makeRunner(links [2]*dslite.Link, service func(time.Time)) {
	ls := []*dslite.Link{links[0]}
	if links[1] != links[0] {
		ls = append(ls, links[1])
	}
	ports := make([]dslite.Port, len(r.ports))
	for i, p := range r.ports {
		ports[i] = p
	}
	r.runner = dslite.NewRunner(ports, ls, service)
}

func (r *engineRun) closePorts() {
	for _, p := range r.ports {
		_ = p.Close()
	}
	r.ports = nil
}

func timeString(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func str(v string) *string { return &v }

// stateOf maps a BFD state to the YANG bfd-state of wirebeat-softwire.
func stateOf(st bfd.State) gen.E_WirebeatSoftwire_BfdState {
	return gen.E_WirebeatSoftwire_BfdState(st + 1)
}

// covers tells whether a state request for paths reaches the node at
// the path of names (list keys aside).
func covers(paths []*gpb.Path, names ...string) bool {
	elems := make([]*gpb.PathElem, len(names))
	for i, n := range names {
		elems[i] = &gpb.PathElem{Name: n}
	}
	return schema.Covers(paths, elems...)
}
