package softwire

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/softwire/bindstore"
	"github.com/wirebeat/wirebeat/softwire/failover"
)

// This file maps /softwire/lwaftr/failover onto the failover manager and
// the etcd binding store (softwire/failover, softwire/bindstore), and
// their state back into the tree. The lwAFTR adapter calls these; they
// know nothing of the commit pipeline.

// FailoverSetup is what a failover configuration asks for.
type FailoverSetup struct {
	Manager failover.Config
	// Store is nil unless the validation source is etcd.
	Store *bindstore.Config
	// OutOfService is failover/out-of-service (drain by hand); Drain the
	// drain-period of a stopping lwAFTR.
	OutOfService bool
	Drain        time.Duration
	// Relay is nil unless dhcpv4-over-dhcpv6-relay is enabled.
	Relay *RelaySetup
	// ID names this lwAFTR in binding-created: its external-interface ip.
	ID string
}

// RelaySetup is what failover/dhcpv4-over-dhcpv6-relay asks for.
type RelaySetup struct {
	Servers     []netip.AddrPort
	Source      netip.Addr // unspecified: any
	LinkAddr    netip.Addr
	InterfaceID []byte
	Rate, Burst float64
}

// FailoverConfig reads the failover configuration of dev. Mode none gives
// a setup with Manager.Mode None and no store.
func FailoverConfig(dev *gen.Device) (FailoverSetup, error) {
	var s FailoverSetup
	fo := dev.GetSoftwire().GetLwaftr().GetFailover()
	if fo == nil {
		return s, nil
	}
	const base = "/softwire/lwaftr/failover"
	switch fo.GetMode() {
	case gen.WirebeatSoftwire_FailoverMode_icmpv6_trigger:
		s.Manager.Mode = failover.ICMPv6Trigger
	case gen.WirebeatSoftwire_FailoverMode_data_packet_trigger:
		s.Manager.Mode = failover.DataPacketTrigger
	default:
		if fo.GetDhcpv4OverDhcpv6Relay().GetEnabled() {
			return s, fmt.Errorf("%s/dhcpv4-over-dhcpv6-relay: the relay creates dynamic bindings and needs a failover mode other than none", base)
		}
		return s, nil
	}
	if fo.AnycastAddress == nil {
		return s, fmt.Errorf("%s/anycast-address: required unless the mode is none", base)
	}
	a, err := netip.ParseAddr(fo.GetAnycastAddress())
	if err != nil || !a.Is6() {
		return s, fmt.Errorf("%s/anycast-address: %q is not an IPv6 address", base, fo.GetAnycastAddress())
	}
	s.Manager.Anycast = a.As16()
	s.OutOfService = fo.GetOutOfService()
	s.Drain = time.Duration(fo.GetDrainPeriod()) * time.Second
	s.ID = dev.GetSoftwire().GetLwaftr().GetExternalInterface().GetIp()
	if s.Relay, err = relayConfig(dev, base+"/dhcpv4-over-dhcpv6-relay"); err != nil {
		return s, err
	}
	if v := fo.DynamicBindingLifetime; v != nil {
		s.Manager.Lifetime = time.Duration(*v) * time.Second
	} else {
		s.Manager.Lifetime = 7200 * time.Second
	}
	if v := fo.MaxDynamicBindings; v != nil {
		if *v == 0 {
			return s, fmt.Errorf("%s/max-dynamic-bindings: 0 would refuse every failover; use mode none", base)
		}
		s.Manager.MaxDynamic = int(min(*v, 1<<24))
	}
	vs := fo.GetValidationSource()
	if vs != nil && vs.QueryTimeout != nil {
		s.Manager.QueryTimeout = time.Duration(*vs.QueryTimeout) * time.Millisecond
	}
	typ := vs.GetType()
	if typ != gen.WirebeatSoftwire_BindingSource_etcd {
		if s.Manager.Mode == failover.DataPacketTrigger {
			return s, fmt.Errorf("%s/validation-source/type: data-packet-trigger validates against etcd in this build; %s is not supported", base, typ.String())
		}
		return s, nil
	}
	ec := vs.GetEtcd()
	if len(ec.GetEndpoint()) == 0 {
		return s, fmt.Errorf("%s/validation-source/etcd/endpoint: at least one is required", base)
	}
	st := &bindstore.Config{Endpoints: append([]string(nil), ec.GetEndpoint()...), Prefix: bindstore.DefaultPrefix,
		QueryTimeout: s.Manager.QueryTimeout}
	if ec.Prefix != nil {
		st.Prefix = ec.GetPrefix()
	}
	if t := ec.GetTls(); t != nil {
		cfg, err := failoverTLS(t.GetCaFile(), t.GetCertFile(), t.GetKeyFile())
		if err != nil {
			return s, fmt.Errorf("%s/validation-source/etcd/tls: %w", base, err)
		}
		st.TLS = cfg
	}
	s.Store = st
	return s, nil
}

// relayConfig reads an enabled dhcpv4-over-dhcpv6-relay (nil when it is
// not enabled).
func relayConfig(dev *gen.Device, base string) (*RelaySetup, error) {
	lw := dev.GetSoftwire().GetLwaftr()
	rc := lw.GetFailover().GetDhcpv4OverDhcpv6Relay()
	if !rc.GetEnabled() {
		return nil, nil
	}
	r := &RelaySetup{Source: netip.IPv6Unspecified(), Rate: float64(rc.GetRateLimit()), Burst: float64(rc.GetBurst())}
	port := rc.GetServerPort()
	if len(rc.GetServer()) == 0 {
		return nil, fmt.Errorf("%s/server: at least one is required when enabled", base)
	}
	for _, v := range rc.GetServer() {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is6() || a.Is4In6() || a.IsMulticast() || a.IsUnspecified() {
			return nil, fmt.Errorf("%s/server: %q is not a unicast IPv6 address", base, v)
		}
		r.Servers = append(r.Servers, netip.AddrPortFrom(a, port))
	}
	la, err := netip.ParseAddr(rc.GetLinkAddress())
	if rc.LinkAddress == nil || err != nil || !la.Is6() || la.IsUnspecified() {
		return nil, fmt.Errorf("%s/link-address: required when enabled (an IPv6 address of the B4s' subnet)", base)
	}
	r.LinkAddr = la
	if rc.SourceAddress != nil {
		if r.Source, err = netip.ParseAddr(rc.GetSourceAddress()); err != nil || !r.Source.Is6() {
			return nil, fmt.Errorf("%s/source-address: %q is not an IPv6 address", base, rc.GetSourceAddress())
		}
	}
	if rc.InterfaceId != nil {
		r.InterfaceID = []byte(rc.GetInterfaceId())
	} else {
		r.InterfaceID = []byte(lw.GetInternalInterface().GetDevice())
	}
	return r, nil
}

func failoverTLS(ca, cert, key string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca-file %s: no PEM certificate", ca)
		}
		cfg.RootCAs = pool
	}
	if (cert == "") != (key == "") {
		return nil, errors.New("cert-file and key-file go together")
	}
	if cert != "" {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("cert-file/key-file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// FillFailoverState renders the state of the managers (one per worker:
// counters summed, dynamic bindings listed together) and of the store
// into fo (st may be nil).
func FillFailoverState(fo *gen.WirebeatSoftwire_Softwire_Lwaftr_Failover, st *bindstore.Store, ms ...*failover.Manager) {
	if len(ms) == 0 {
		return
	}
	s := fo.GetOrCreateState()
	u32 := func(v int) *uint32 { x := uint32(v); return &x }
	u64 := func(v uint64) *uint64 { return &v }
	b := func(v bool) *bool { return &v }
	var created, removed, failed, icmp, asked, rl, neg, held, inb, rel, dropped, deferred, caught uint64
	dynCount, inService := 0, true
	var dyn []failover.DynamicBinding
	for _, m := range ms {
		c := &m.C
		dynCount += m.DynamicCount()
		created += c.Created.Load()
		removed += c.Removed.Load()
		failed += c.ValidationsFailed.Load()
		icmp += c.ICMPTriggers.Load()
		asked += c.ValidationsAsked.Load()
		rl += c.RateLimited.Load()
		neg += c.NegativeHits.Load()
		held += c.Queued.Load() + c.InboundHeld.Load()
		inb += c.InboundValidated.Load()
		rel += c.Released.Load()
		dropped += c.QueueDrops.Load() + c.PendingFull.Load()
		deferred += c.StoreDeferred.Load()
		caught += c.StoreCaughtUp.Load()
		inService = inService && m.InService()
		dyn = append(dyn, m.Dynamic()...)
	}
	s.DynamicBindingCount = u32(dynCount)
	s.BindingsCreated = u64(created)
	s.BindingsRemoved = u64(removed)
	s.ValidationFailures = u64(failed)
	s.Icmpv6TriggersSent = u64(icmp)
	s.InService = b(inService)
	d := s.GetOrCreateDataPacketTrigger()
	d.Validations = u64(asked)
	d.RateLimited = u64(rl)
	d.NegativeCacheHits = u64(neg)
	d.PacketsHeld = u64(held)
	d.InboundTriggers = u64(inb)
	d.PacketsReleased = u64(rel)
	d.PacketsDroppedWaiting = u64(dropped)
	source := gen.WirebeatSoftwire_BindingSource_static
	if st != nil {
		source = gen.WirebeatSoftwire_BindingSource_etcd
		ss := st.State()
		v := s.GetOrCreateValidationSource()
		v.Reachable = b(ss.Reachable)
		if ss.LastError != "" {
			e := ss.LastError
			v.LastError = &e
		}
		v.CachedBindings = u32(ss.Entries)
		v.RefusedMalformed = u64(st.C.RefusedMalformed.Load())
		v.RefusedOverlap = u64(st.C.RefusedOverlap.Load())
		v.WritesDeferred = u64(deferred)
		v.WritesCaughtUp = u64(caught)
		d.CacheHits = u64(st.C.CacheHits.Load())
		d.CacheMisses = u64(st.C.CacheMisses.Load())
	}
	for _, db := range dyn {
		x := db.Binding
		ip := netip.AddrFrom4([4]byte{byte(x.IPv4 >> 24), byte(x.IPv4 >> 16), byte(x.IPv4 >> 8), byte(x.IPv4)}).String()
		e, err := fo.NewDynamicBinding(ip, x.PSID)
		if err != nil {
			continue
		}
		off, l := x.PortSet.Offset, x.PortSet.Length
		b4 := netip.AddrFrom16(x.B4).String()
		created := db.Created.UTC().Format(time.RFC3339)
		e.PsidOffset, e.PsidLength, e.B4Ipv6 = &off, &l, &b4
		e.CreatedTime = &created
		if !db.LastUsed.IsZero() {
			// As the sweeps see it: within one sweep interval.
			used := db.LastUsed.UTC().Format(time.RFC3339)
			e.LastUsedTime = &used
		}
		e.Source = source
		switch db.Origin {
		case failover.Validated:
			e.CreatedBy = gen.WirebeatSoftwire_BindingCreatedReason_data_packet_validated
		case failover.Reprovisioned:
			e.CreatedBy = gen.WirebeatSoftwire_BindingCreatedReason_reprovisioned
		default:
			e.CreatedBy = gen.WirebeatSoftwire_BindingCreatedReason_provisioned
		}
	}
}

// FailoverNotifications returns the OnCreated and OnRemoved callbacks of
// a failover.Config that publish the wirebeat-softwire binding-created
// and binding-removed notifications to sink (which never blocks).
func FailoverNotifications(sink events.Sink) (func(failover.DynamicBinding), func(failover.DynamicBinding, string)) {
	return FailoverNotificationsFrom(sink, "")
}

// FailoverNotificationsFrom is FailoverNotifications with binding-created
// naming the lwAFTR that created the binding (its external IPv4 address;
// no lwaftr leaf when empty).
func FailoverNotificationsFrom(sink events.Sink, id string) (func(failover.DynamicBinding), func(failover.DynamicBinding, string)) {
	ip := func(a uint32) string {
		return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).String()
	}
	created := func(d failover.DynamicBinding) {
		b := d.Binding
		leaves := []events.Leaf{{Name: "ipv4", Value: ip(b.IPv4)}, {Name: "psid", Value: b.PSID},
			{Name: "psid-length", Value: b.PortSet.Length}, {Name: "b4-ipv6", Value: netip.AddrFrom16(b.B4).String()},
			{Name: "reason", Value: d.Origin.String()}}
		if id != "" {
			leaves = append(leaves, events.Leaf{Name: "lwaftr", Value: id})
		}
		sink.Publish(events.Event{Time: time.Now(), Kind: events.Notification, Module: "wirebeat-softwire", Name: "binding-created",
			Leaves: leaves})
	}
	removed := func(d failover.DynamicBinding, reason string) {
		b := d.Binding
		sink.Publish(events.Event{Time: time.Now(), Kind: events.Notification, Module: "wirebeat-softwire", Name: "binding-removed",
			Leaves: []events.Leaf{{Name: "ipv4", Value: ip(b.IPv4)}, {Name: "psid", Value: b.PSID},
				{Name: "b4-ipv6", Value: netip.AddrFrom16(b.B4).String()}, {Name: "reason", Value: reason}}})
	}
	return created, removed
}
