package sfc

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/bfd"
	bfdtransport "github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/sfc/node"
	"github.com/wirebeat/wirebeat/sfc/transport"
)

// BFDTransport is what liveness needs of a BFD transport;
// *bfd/transport.UDP is one.
type BFDTransport interface {
	bfd.Sender
	Key(remote netip.Addr) bfd.PathKey
	Run() error
	Close() error
}

// Options configure the Subsystem.
type Options struct {
	Log *slog.Logger
	// OpenBFD opens a BFD transport on the shared engine; the UDP one when
	// nil.
	OpenBFD func(cfg bfdtransport.Config, eng *bfd.Engine) (BFDTransport, error)
	// LivenessPoll is how often locator sessions are read; 10ms when 0.
	LivenessPoll time.Duration
	// BFD is the element's BFD engine, in which locator sessions are
	// created (one engine: one discriminator space, one timer heap). When
	// nil, the subsystem runs an engine of its own.
	BFD *bfd.Engine
}

// Subsystem is the SFC engine as the element core sees it: /sfc maps to a
// policy table installed in the node, sockets and TUN interfaces for its
// I/O, and one BFD session per watched locator in the element's BFD
// engine.
type Subsystem struct {
	log     *slog.Logger
	node    *node.Node
	openBFD func(cfg bfdtransport.Config, eng *bfd.Engine) (BFDTransport, error)
	poll    time.Duration
	sink    atomic.Pointer[sinkBox]
	// view is what the data plane's hooks read: they run on packet and
	// liveness paths and must never wait for s.mu (Apply holds it while
	// it stops the receivers).
	view atomic.Pointer[hookView]
	lcMu sync.Mutex
	// lastChange is when each locator's liveness last changed (lcMu).
	lastChange map[netip.Addr]time.Time

	mu         sync.Mutex
	cur        *settings
	io         *ioRun
	eng        *bfd.Engine
	ownEng     context.CancelFunc // when no element engine was handed over
	watches    map[watchKey]*watching
	transports map[bfdTrKey]*bfdTr
	tableTime  time.Time
	pollStop   chan struct{}
	pollDone   chan struct{}
	pending    *prepared
}

// prepared is what Prepare built and opened for the commit under way.
type prepared struct {
	cs    *schema.ChangeSet
	set   *settings
	table *node.Table           // nil when the node gets no role
	io    *ioRun                // opened, not running; nil: keep the running I/O
	trs   map[bfdTrKey]*bfdTr   // BFD transports opened, not running
	watch map[watchKey]bfdTrKey // wanted locator sessions and their transports
}

type sinkBox struct{ events.Sink }

// hookView is the part of the configuration in effect that the hooks
// need.
type hookView struct {
	loopNotify bool
	sfsByAddr  map[netip.Addr][]string
}

func newHookView(set *settings) *hookView {
	v := &hookView{loopNotify: set.loopNotify, sfsByAddr: map[netip.Addr][]string{}}
	for _, sf := range set.node.SFs {
		for _, l := range sf.Locators {
			v.sfsByAddr[l.Addr] = append(v.sfsByAddr[l.Addr], sf.ID)
		}
	}
	return v
}

type watchKey struct {
	addr netip.Addr
	w    watch
}

type watching struct {
	discr uint32
	tr    bfdTrKey
}

type bfdTrKey struct {
	kind  bfd.PathKind
	ipv6  bool
	iface string
	local netip.Addr
}

type bfdTr struct {
	t    BFDTransport
	done chan struct{}
}

// New makes the subsystem; it forwards nothing until a configuration
// gives it a role.
func New(o Options) *Subsystem {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.OpenBFD == nil {
		o.OpenBFD = func(cfg bfdtransport.Config, eng *bfd.Engine) (BFDTransport, error) {
			return bfdtransport.Open(cfg, eng)
		}
	}
	if o.LivenessPoll == 0 {
		o.LivenessPoll = 10 * time.Millisecond
	}
	s := &Subsystem{log: o.Log, openBFD: o.OpenBFD, poll: o.LivenessPoll, eng: o.BFD,
		watches: map[watchKey]*watching{}, transports: map[bfdTrKey]*bfdTr{}, lastChange: map[netip.Addr]time.Time{}}
	s.node = node.New(node.Hooks{OnLoop: s.onLoop, OnLiveness: s.onLiveness})
	return s
}

// Node returns the data plane, for tests.
func (s *Subsystem) Node() *node.Node { return s.node }

// Name is "sfc".
func (s *Subsystem) Name() string { return "sfc" }

// Attach sets the sink of notifications.
func (s *Subsystem) Attach(sink events.Sink) {
	if sink == nil {
		sink = events.Discard{}
	}
	s.sink.Store(&sinkBox{sink})
}

func (s *Subsystem) publish(e events.Event) {
	if b := s.sink.Load(); b != nil {
		b.Publish(e)
	}
}

// Owns is /sfc, plus the BFD profiles that locator sessions take their
// timers from.
func (s *Subsystem) Owns() []*gpb.Path {
	return []*gpb.Path{sfcPath(), {Elem: []*gpb.PathElem{elem("bfd"), elem("profiles")}}}
}

// Prepare checks what YANG cannot, builds the policy table, and opens the
// sockets, TUN interfaces and BFD transports the new configuration needs
// without running them, so that Apply cannot fail. Nothing forwards
// differently until Apply.
func (s *Subsystem) Prepare(cs *schema.ChangeSet) error {
	set, err := translate(cs.New)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &prepared{cs: cs, set: set, trs: map[bfdTrKey]*bfdTr{}, watch: map[watchKey]bfdTrKey{}}
	fail := func(err error) error {
		s.release(p)
		return err
	}
	if set.active {
		if p.table, err = node.Build(set.node); err != nil {
			return schema.Errorf(schema.TagInvalidValue, sfcPath(), "%v", err)
		}
		if s.io == nil || s.io.set != set.io {
			if p.io, err = openIO(set.io, s.log); err != nil {
				return schema.Errorf(schema.TagResourceDenied, sfcPath(elem("encapsulation")), "%v", err)
			}
		}
	}
	if len(set.watch) > 0 && s.eng == nil {
		// No element engine (this package's own tests): run one.
		s.eng = bfd.NewEngine(bfd.Options{Log: s.log})
		ctx, cancel := context.WithCancel(context.Background())
		s.ownEng = cancel
		go s.eng.Run(ctx)
	}
	for _, w := range set.watch {
		k := watchKey{addr: w.addr, w: w}
		k.w.sf = "" // two SFs on one locator share its session
		if _, ok := p.watch[k]; ok {
			continue
		}
		lp := locatorPath(w.sf, w.addr)
		trk := bfdTrKey{kind: w.kind, ipv6: w.addr.Is6(), local: w.local}
		if w.ifaceFor {
			iface, local, err := connectedInterface(w.addr)
			if err != nil {
				return fail(schema.Errorf(schema.TagInvalidValue, lp, "single-hop BFD: %v", err))
			}
			trk.iface = iface
			if !trk.local.IsValid() {
				trk.local = local
			}
		}
		if _, ok := s.transports[trk]; !ok {
			if _, ok := p.trs[trk]; !ok {
				t, err := s.openBFD(bfdtransport.Config{Kind: trk.kind, IPv6: trk.ipv6, Interface: trk.iface, Local: trk.local, Log: s.log}, s.eng)
				if err != nil {
					return fail(schema.Errorf(schema.TagResourceDenied, lp, "BFD transport: %v", err))
				}
				p.trs[trk] = &bfdTr{t: t, done: make(chan struct{})}
			}
		}
		p.watch[k] = trk
	}
	s.release(s.pending)
	s.pending = p
	return nil
}

func locatorPath(sf string, a netip.Addr) *gpb.Path {
	return sfcPath(elem("service-functions"), elem("service-function", "id", sf), elem("locator", "address", a.String()))
}

// release closes what a Prepare opened.
func (s *Subsystem) release(p *prepared) {
	if p == nil {
		return
	}
	if p.io != nil {
		p.io.close()
	}
	for _, t := range p.trs {
		_ = t.t.Close()
	}
}

// Abort releases what Prepare opened.
func (s *Subsystem) Abort(cs *schema.ChangeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pending; p != nil && p.cs == cs {
		s.release(p)
		s.pending = nil
	}
}

// Apply carries out the prepared plan: the new I/O starts (the old one
// stops), the table is installed (packets in flight finish on the old
// one), locator sessions are added and removed.
func (s *Subsystem) Apply(cs *schema.ChangeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending
	s.pending = nil
	if p == nil || p.cs != cs {
		s.log.Error("sfc: Apply without Prepare; configuration not applied")
		return
	}
	set := p.set
	s.view.Store(newHookView(set))
	if !set.active {
		s.stopIO()
		s.applyWatches(p)
		t, _ := node.Build(node.Config{})
		s.node.Install(t)
		s.cur = set
		return
	}
	if p.io != nil {
		s.stopIO()
		p.io.start(s.log, s.node)
		s.io = p.io
	}
	if s.io.ether != nil {
		s.io.ether.SetPeers(set.peers)
	}
	s.node.Install(p.table)
	s.tableTime = time.Now()
	s.applyWatches(p)
	s.cur = set
	mode := "full"
	if set.node.Lightweight {
		mode = "lightweight"
	}
	n := uint32(len(p.table.Entries()))
	s.publish(events.Event{Time: s.tableTime, Kind: events.Notification, Module: "wirebeat-sfc", Name: "policy-table-updated",
		Leaves: []events.Leaf{{Name: "mode", Value: enumString(mode)}, {Name: "entry-count", Value: n},
			{Name: "time", Value: s.tableTime.UTC().Format(time.RFC3339Nano)}}})
	s.log.Info("sfc policy table installed", "mode", mode, "entries", n, "maps", len(set.node.Maps), "rules", len(set.node.Rules))
}

func (s *Subsystem) stopIO() {
	if s.io != nil {
		s.io.close()
		s.io = nil
	}
}

// applyWatches starts the prepared BFD transports, adds and removes
// locator sessions to match the plan, and closes unused transports.
func (s *Subsystem) applyWatches(p *prepared) {
	for k, t := range p.trs {
		go func() { _ = t.t.Run(); close(t.done) }()
		s.transports[k] = t
	}
	for k, wt := range s.watches {
		if trk, ok := p.watch[k]; !ok || trk != wt.tr {
			_ = s.eng.RemoveSession(wt.discr)
			delete(s.watches, k)
			s.node.SetLiveness(k.addr, node.Unknown)
		}
	}
	for k, trk := range p.watch {
		if _, ok := s.watches[k]; ok {
			continue
		}
		w, tr := k.w, s.transports[trk]
		cfg := bfd.SessionConfig{Path: tr.t.Key(w.addr), DesiredMinTxInterval: w.tx, RequiredMinRxInterval: w.rx, DetectMult: w.mult,
			SBFDRemoteDiscr: w.discr, Tag: "sfc"}
		if w.kind == bfd.PathMultiHop {
			cfg.MinRxTTL = 254
		}
		d, err := s.eng.AddSession(cfg, tr.t)
		if err != nil {
			s.log.Error("sfc: locator session", "locator", w.addr, "err", err)
			continue
		}
		s.watches[k] = &watching{discr: d, tr: trk}
	}
	for k, t := range s.transports {
		used := false
		for _, w := range s.watches {
			used = used || w.tr == k
		}
		if !used {
			_ = t.t.Close()
			<-t.done
			delete(s.transports, k)
		}
	}
	if len(s.watches) > 0 && s.pollStop == nil {
		s.pollStop, s.pollDone = make(chan struct{}), make(chan struct{})
		go s.pollLiveness(s.pollStop, s.pollDone)
	}
}

// pollLiveness reads the locator sessions and turns their state into
// locator liveness: unknown until a session has been Up once, then up or
// down with it.
func (s *Subsystem) pollLiveness(stop, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	type obs struct {
		addr netip.Addr
		l    node.Liveness
	}
	var seen []obs
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		seen = seen[:0]
		s.mu.Lock()
		eng := s.eng
		for k, w := range s.watches {
			info, ok := eng.Session(w.discr)
			if !ok {
				continue
			}
			l := node.Unknown
			switch {
			case info.LocalState == bfd.StateUp:
				l = node.Up
			case info.UpCount > 0 || info.LocalState == bfd.StateAdminDown:
				l = node.Down
			}
			seen = append(seen, obs{k.addr, l})
		}
		s.mu.Unlock()
		for _, o := range seen {
			s.node.SetLiveness(o.addr, o.l)
		}
	}
}

// onLiveness runs under the node's lock: it records the time and
// publishes one sf-liveness-change per SF the locator serves, in the
// order of the changes (the event hub never blocks).
func (s *Subsystem) onLiveness(addr netip.Addr, old, new node.Liveness) {
	now := time.Now()
	s.log.Info("sfc locator liveness", "locator", addr, "old", old, "new", new, "time", now.UTC().Format(time.RFC3339Nano))
	s.lcMu.Lock()
	s.lastChange[addr] = now
	s.lcMu.Unlock()
	v := s.view.Load()
	if v == nil {
		return
	}
	str := func(v string) *gpb.TypedValue { return &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: v}} }
	for _, id := range v.sfsByAddr[addr] {
		st := locatorPath(id, addr)
		st.Elem = append(st.Elem, elem("state"))
		leaf := func(name string) *gpb.Path {
			return &gpb.Path{Elem: append(append([]*gpb.PathElem(nil), st.Elem...), elem(name))}
		}
		s.publish(events.Event{Time: now, Kind: events.Notification, Module: "wirebeat-sfc", Name: "sf-liveness-change",
			Leaves: []events.Leaf{{Name: "service-function", Value: id}, {Name: "locator", Value: addr.String()},
				{Name: "new-state", Value: enumString(new.String())}, {Name: "old-state", Value: enumString(old.String())}},
			Updates: []events.Update{
				{Path: leaf("liveness-state"), Value: str(new.String())},
				{Path: leaf("last-change"), Value: str(now.UTC().Format(time.RFC3339Nano))},
			}})
	}
}

func (s *Subsystem) onLoop(spi uint32, si uint8, from netip.Addr) {
	v := s.view.Load()
	notify := v != nil && v.loopNotify
	now := time.Now()
	s.log.Warn("sfc loop detected", "spi", spi, "si", si, "previous-hop", from)
	if !notify {
		return
	}
	leaves := []events.Leaf{{Name: "sf-map-index", Value: spi}, {Name: "service-index", Value: si}}
	if from.IsValid() {
		leaves = append(leaves, events.Leaf{Name: "previous-hop", Value: from.String()})
	}
	leaves = append(leaves, events.Leaf{Name: "time", Value: now.UTC().Format(time.RFC3339Nano)})
	s.publish(events.Event{Time: now, Kind: events.Notification, Module: "wirebeat-sfc", Name: "loop-detected", Leaves: leaves})
}

type enumString string

func (e enumString) String() string { return string(e) }

// Close stops the I/O and the liveness sessions.
func (s *Subsystem) Close() error {
	s.mu.Lock()
	s.stopIO()
	s.release(s.pending)
	s.pending = nil
	s.applyWatches(&prepared{})
	stop, done := s.pollStop, s.pollDone
	s.pollStop = nil
	cancel := s.ownEng
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	if cancel != nil {
		cancel()
	}
	return nil
}

// ioRun is the running I/O: the NSH socket, the routing TUN, the proxy
// TUNs, one goroutine (and one node.Worker) for each receiver.
type ioRun struct {
	set                ioSettings
	net                nshLink          // VXLAN-GPE or UDP socket, or Ethernet port
	ether              *transport.Ether // net, when over Ethernet
	external           []*transport.External
	routing, to, from  pktio.Port // TUN ports
	wg                 sync.WaitGroup
	routeMissing, txEr atomic.Uint64
}

// openIO opens the socket and interfaces, without reading them yet.
func openIO(set ioSettings, log *slog.Logger) (r *ioRun, err error) {
	r = &ioRun{set: set}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if set.ether {
		if r.ether, err = transport.OpenEther(transport.EtherConfig{Interface: set.iface, Local: set.local, IPv6: set.ipv6, VLAN: set.vlan, Log: log}); err != nil {
			return nil, err
		}
		r.net = r.ether
	} else {
		u, err := transport.ListenUDP(transport.UDPConfig{Local: set.local, Port: set.port, GPE: set.gpe, IPv6: set.ipv6})
		if err != nil {
			return nil, err
		}
		r.net = u
	}
	if set.external != "" {
		for _, name := range strings.Split(set.external, ",") {
			x, err := transport.OpenExternal(name, "", log)
			if err != nil {
				return nil, err
			}
			r.external = append(r.external, x)
		}
	}
	for _, t := range []struct {
		name string
		dst  *pktio.Port
	}{{set.routingTUN, &r.routing}, {set.proxyTo, &r.to}, {set.proxyFrom, &r.from}} {
		if t.name == "" {
			continue
		}
		if *t.dst, err = pktio.OpenTUN(t.name, pktio.Config{Log: log}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// start runs one receiver goroutine, with its own node.Worker, per input.
func (r *ioRun) start(log *slog.Logger, n *node.Node) {
	r.wg.Add(1)
	go func() { defer r.wg.Done(); _ = r.net.Run(n.NewWorker(r)) }()
	for _, x := range r.external {
		w := n.NewWorker(r)
		r.wg.Add(1)
		go func() { defer r.wg.Done(); _ = x.Run(w, r.net.Flush) }()
	}
	if r.routing != nil {
		w := n.NewWorker(r)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			_ = transport.RunIP(r.routing, w.FromOutside, r.net.Flush)
		}()
	}
	if r.from != nil {
		w := n.NewWorker(r)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			_ = transport.RunIP(r.from, w.FromLegacy, r.net.Flush)
		}()
	}
	log.Info("sfc data plane started", "port", r.set.port, "vxlan-gpe", r.set.gpe, "ethernet", r.set.iface, "vlan", r.set.vlan, "external", r.set.external,
		"routing-interface", r.set.routingTUN, "proxy-to", r.set.proxyTo, "proxy-from", r.set.proxyFrom)
}

// SendNSH, Route and ToLegacy implement node.Output.
func (r *ioRun) SendNSH(to netip.Addr, dscp uint8, pkt []byte) { r.net.SendNSH(to, dscp, pkt) }

// nshLink carries NSH between the nodes of the domain.
type nshLink interface {
	SendNSH(to netip.Addr, dscp uint8, pkt []byte)
	Flush()
	Run(w *node.Worker) error
	Close() error
}

func (r *ioRun) Route(_ uint8, pkt []byte) {
	if r.routing == nil {
		r.routeMissing.Add(1)
		return
	}
	if !r.routing.Send(pkt) {
		r.txEr.Add(1)
	}
}

func (r *ioRun) ToLegacy(_ uint8, pkt []byte) {
	if r.to == nil || !r.to.Send(pkt) {
		r.txEr.Add(1)
	}
}

func (r *ioRun) close() {
	closers := []interface{ Close() error }{r.net, r.routing, r.to, r.from}
	for _, x := range r.external {
		closers = append(closers, x)
	}
	for _, c := range closers {
		if c != nil {
			c.Close()
		}
	}
	r.wg.Wait()
}
