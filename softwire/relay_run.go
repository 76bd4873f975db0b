package softwire

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/bindstore"
	"github.com/wirebeat/wirebeat/softwire/dhcp4o6"
	"github.com/wirebeat/wirebeat/softwire/failover"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

// This file hosts the DHCPv4-over-DHCPv6 relay
// (/softwire/lwaftr/failover/dhcpv4-over-dhcpv6-relay) next to the
// failover managers. The client side is the data plane: each worker's
// engine hands UDP packets for the anycast address to the relay
// (failoverSource.LocalUDP), and the relay's answers wait in a small
// outbox that the workers' Poll sends from the anycast address. The
// server side is a kernel socket on port 547, reached by the host's
// routing. A DHCPACK the relay passes on makes the first manager create
// the dynamic binding (failover.Manager.Provisioned: written to etcd with
// a lease, installed in the shared table), with the DHCP lease time as
// the lease.

// relayRun is a lwAFTR's running relay.
type relayRun struct {
	r      *dhcp4o6.Relay
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	out [][]byte // answers waiting for a worker's Poll
	// poke wakes a worker to send them (set once the runner runs).
	poke atomic.Pointer[func()]
}

// outboxDepth bounds the answers waiting for the data plane.
const outboxDepth = 64

// failoverSource is what a worker's engine sees as its unknown-source
// handler: the worker's failover manager, plus the relay's client side.
type failoverSource struct {
	*failover.Manager
	f *failoverRun
}

// LocalUDP hands UDP for the anycast address to the relay.
func (s failoverSource) LocalUDP(p []byte) bool {
	if s.f.relay == nil {
		return false
	}
	return s.f.relay.r.FromClient(p)
}

// Poll is the manager's, then sends the relay's waiting answers.
func (s failoverSource) Poll(e *lwaftr.Engine) {
	s.Manager.Poll(e)
	if rr := s.f.relay; rr != nil {
		rr.mu.Lock()
		out := rr.out
		rr.out = nil
		rr.mu.Unlock()
		for _, p := range out {
			if !e.SendLocal6(p) {
				rr.r.C.SendErrors.Add(1)
			}
		}
	}
}

// send queues one answer (the relay's Send); it never blocks.
func (rr *relayRun) send(p []byte) {
	rr.mu.Lock()
	if len(rr.out) >= outboxDepth {
		rr.mu.Unlock()
		rr.r.C.SendErrors.Add(1)
		return
	}
	rr.out = append(rr.out, append([]byte(nil), p...))
	rr.mu.Unlock()
	if f := rr.poke.Load(); f != nil {
		(*f)()
	}
}

// leaseWriter is the store as the managers' Writer, with the lease of a
// binding the relay provisions set to the DHCP lease time instead of the
// managers' lifetime.
type leaseWriter struct {
	st *bindstore.Store
	mu sync.Mutex
	// next is the TTL of the next Create of that binding.
	next map[uint64]time.Duration
}

func (w *leaseWriter) Create(ctx context.Context, b bindstore.Binding, ttl time.Duration) (int64, error) {
	k := uint64(b.IPv4)<<16 | uint64(b.PSID)
	w.mu.Lock()
	if d, ok := w.next[k]; ok {
		ttl = d
		delete(w.next, k)
	}
	w.mu.Unlock()
	return w.st.Create(ctx, b, ttl)
}

func (w *leaseWriter) Refresh(ctx context.Context, lease int64) error {
	return w.st.Refresh(ctx, lease)
}

func (w *leaseWriter) setNext(b bindingtable.Softwire, ttl time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.next) > 1024 {
		clear(w.next) // only ever one or two are in flight
	}
	w.next[uint64(b.IPv4)<<16|uint64(b.PSID)] = ttl
}

// buildRelay opens the relay's server-side socket (so an address in use
// fails the commit) and makes the relay; nothing runs until startRelay.
func (f *failoverRun) buildRelay(rs *RelaySetup, setup FailoverSetup, lw *leaseWriter) error {
	conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: rs.Source.AsSlice(), Port: 547})
	if err != nil {
		return fmt.Errorf("relay socket [%s]:547: %w", rs.Source, err)
	}
	rr := &relayRun{done: make(chan struct{})}
	timeout := setup.Manager.QueryTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	maxDyn := setup.Manager.MaxDynamic
	if maxDyn <= 0 {
		maxDyn = 65536
	}
	anycast := netip.AddrFrom16(setup.Manager.Anycast)
	log := f.log.With("subsystem", "dhcp4o6-relay")
	rr.r = &dhcp4o6.Relay{Conn: conn, Servers: rs.Servers, LinkAddr: rs.LinkAddr, InterfaceID: rs.InterfaceID,
		BR: setup.Manager.Anycast, Local: anycast, Send: rr.send, Rate: rs.Rate, Burst: rs.Burst, Log: log,
		InService: func() bool { return f.managers[0].InService() },
		OnBinding: func(b bindingtable.Softwire, lease time.Duration) error {
			m := f.managers[0]
			if m.DynamicCount() >= maxDyn && !f.isDynamic(b) {
				return fmt.Errorf("max-dynamic-bindings (%d) reached", maxDyn)
			}
			if lw != nil && lease > 0 {
				lw.setNext(b, lease)
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if err := m.Provisioned(ctx, b); err != nil {
				return err
			}
			log.Info("relay: B4 provisioned through this lwAFTR", "ipv4", netip.AddrFrom4([4]byte{byte(b.IPv4 >> 24), byte(b.IPv4 >> 16), byte(b.IPv4 >> 8), byte(b.IPv4)}),
				"psid", b.PSID, "b4-ipv6", netip.AddrFrom16(b.B4), "lease", lease)
			return nil
		}}
	rr.r.Init()
	f.relay = rr
	return nil
}

// isDynamic reports whether b is one of the managers' dynamic bindings
// already (a renewal, which max-dynamic-bindings does not stop).
func (f *failoverRun) isDynamic(b bindingtable.Softwire) bool {
	for _, d := range f.managers[0].Dynamic() {
		if d.Binding.IPv4 == b.IPv4 && d.Binding.PSID == b.PSID {
			return true
		}
	}
	return false
}

// startRelay serves the relay; poke wakes a worker to send its answers.
func (f *failoverRun) startRelay(poke func()) {
	rr := f.relay
	if rr == nil {
		return
	}
	rr.poke.Store(&poke)
	ctx, cancel := context.WithCancel(context.Background())
	rr.cancel = cancel
	go func() {
		defer close(rr.done)
		if err := rr.r.Serve(ctx); err != nil {
			f.log.Error("dhcp4o6 relay stopped", "err", err)
		}
	}()
	f.log.Info("dhcp4o6 relay: relaying from the anycast address", "anycast", rr.r.Local, "servers", fmt.Sprint(rr.r.Servers))
}

// closeRelay stops the relay (or closes the socket of one never started).
func (f *failoverRun) closeRelay() {
	rr := f.relay
	if rr == nil {
		return
	}
	if rr.cancel != nil {
		rr.cancel()
		<-rr.done
	} else {
		rr.r.Conn.Close()
	}
}

// fillRelayState renders the relay's counters.
func (f *failoverRun) fillRelayState(fo *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover) {
	rr := f.relay
	if rr == nil {
		return
	}
	c := &rr.r.C
	st := fo.GetOrCreateDhcpv4OverDhcpv6Relay().GetOrCreateState()
	v := func(a *atomic.Uint64) *uint64 { x := a.Load(); return &x }
	st.ClientMessages, st.Forwarded, st.Replied = v(&c.ClientMessages), v(&c.Forwarded), v(&c.Replied)
	st.Bindings, st.BindingErrors = v(&c.Bindings), v(&c.BindingErrors)
	st.DroppedMalformed, st.DroppedRateLimited, st.DroppedQueueFull = v(&c.DropMalformed), v(&c.DropRateLimited), v(&c.DropQueueFull)
	st.DroppedTooBig, st.DroppedNotServer, st.DroppedOutOfService = v(&c.DropTooBig), v(&c.DropNotServer), v(&c.DropOutOfService)
	st.DroppedWrongType, st.SendErrors = v(&c.DropWrongType), v(&c.SendErrors)
}
