package adapter

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// Defaults of a profile (and of a session without one), as the YANG says.
const (
	defaultTx               = 1_000_000
	defaultRx               = 1_000_000
	defaultMult             = 3
	defaultMinRxTTLMultiHop = 254
)

// sessKey names a configured session by its list and keys.
type sessKey struct {
	kind bfd.PathKind
	a, b string // single hop: interface, dest-addr; multi hop: source-addr, dest-addr
}

// trKey identifies the transport a session needs.
type trKey struct {
	kind  bfd.PathKind
	ipv6  bool
	iface string
	local netip.Addr
	ttl   uint8
}

func (k trKey) config() transport.Config {
	return transport.Config{Kind: k.kind, IPv6: k.ipv6, Interface: k.iface, Local: k.local, TxTTL: k.ttl}
}

// wanted is one session as the configuration describes it.
type wanted struct {
	tr     trKey
	remote netip.Addr
	cfg    bfd.SessionConfig // Path is filled from the transport
}

func elem(name string, keys ...string) *gpb.PathElem {
	e := &gpb.PathElem{Name: name}
	if len(keys) > 0 {
		e.Key = map[string]string{}
		for i := 0; i+1 < len(keys); i += 2 {
			e.Key[keys[i]] = keys[i+1]
		}
	}
	return e
}

func path(elems ...*gpb.PathElem) *gpb.Path { return &gpb.Path{Elem: elems} }

// sessionPath is the tree path of a configured session.
func (k sessKey) path() *gpb.Path {
	switch k.kind {
	case bfd.PathSingleHop:
		return path(elem("bfd"), elem("single-hop"), elem("session", "interface", k.a, "dest-addr", k.b))
	case bfd.PathSBFD:
		return path(elem("bfd"), elem("sbfd"), elem("initiator", "name", k.a))
	}
	return path(elem("bfd"), elem("multi-hop"), elem("session", "source-addr", k.a, "dest-addr", k.b))
}

func profilePath(name string, leaf ...string) *gpb.Path {
	p := path(elem("bfd"), elem("profiles"), elem("profile", "name", name))
	for _, l := range leaf {
		p.Elem = append(p.Elem, elem(l))
	}
	return p
}

func invalid(p *gpb.Path, format string, args ...any) error {
	return schema.Errorf(schema.TagInvalidValue, p, format, args...)
}

// profileSettings is a profile reduced to what a session uses.
func profileSettings(name string, p *gen.WirebeatBfd_Bfd_Profiles_Profile) (bfd.SessionConfig, error) {
	c := bfd.SessionConfig{DesiredMinTxInterval: defaultTx, RequiredMinRxInterval: defaultRx, DetectMult: defaultMult}
	if p == nil {
		return c, nil
	}
	if p.DesiredMinTxInterval != nil {
		c.DesiredMinTxInterval = *p.DesiredMinTxInterval
	}
	if p.RequiredMinRxInterval != nil {
		c.RequiredMinRxInterval = *p.RequiredMinRxInterval
	}
	if p.DetectionMultiplier != nil {
		c.DetectMult = *p.DetectionMultiplier
	}
	c.Passive = p.GetPassive()
	c.Demand = p.GetDemandMode()
	if a := p.Authentication; a != nil && (a.Type != gen.WirebeatBfd_AuthType_UNSET || a.Secret != nil) {
		if a.Type == gen.WirebeatBfd_AuthType_UNSET || a.Secret == nil {
			return c, invalid(profilePath(name, "authentication"), "authentication needs both type and secret")
		}
		typ := bfd.AuthType(a.Type - 1) // ygot enums count from UNSET = 0
		max := bfd.MaxPasswordLen
		if typ == bfd.AuthKeyedSHA1 || typ == bfd.AuthMeticulousKeyedSHA1 {
			max = 20
		}
		if len(*a.Secret) > max {
			return c, invalid(profilePath(name, "authentication", "secret"), "secret of %d bytes is longer than %d, the limit for %v", len(*a.Secret), max, typ)
		}
		c.Auth = bfd.AuthConfig{Type: typ, TxKeyID: a.GetKeyId(), Keys: []bfd.Key{{ID: a.GetKeyId(), Secret: []byte(*a.Secret)}}}
		// Accepted keys, in key order so that equal configurations give
		// equal session settings (and no needless reconfiguration).
		ids := make([]int, 0, len(a.AcceptKey))
		for id := range a.AcceptKey {
			ids = append(ids, int(id))
		}
		sort.Ints(ids)
		for _, id := range ids {
			k := a.AcceptKey[uint8(id)]
			kp := path(append(profilePath(name, "authentication").Elem, elem("accept-key", "key-id", strconv.Itoa(id)), elem("secret"))...)
			if k.Secret == nil {
				return c, invalid(kp, "an accepted key needs its secret")
			}
			if len(*k.Secret) > max {
				return c, invalid(kp, "secret of %d bytes is longer than %d, the limit for %v", len(*k.Secret), max, typ)
			}
			if uint8(id) == a.GetKeyId() {
				if *k.Secret != *a.Secret {
					return c, invalid(kp, "key %d is also the transmit key, with another secret", id)
				}
				continue
			}
			c.Auth.Keys = append(c.Auth.Keys, bfd.Key{ID: uint8(id), Secret: []byte(*k.Secret)})
		}
	}
	if s := p.Stability; s != nil && s.GetEnabled() {
		if c.Auth.Type != bfd.AuthNone {
			return c, invalid(profilePath(name, "stability", "enabled"), "stability measurement and authentication both need the authentication section; enable only one")
		}
		c.Stability = bfd.StabilityConfig{Enabled: true, Delay: s.Mode == gen.WirebeatBfd_Bfd_Profiles_Profile_Stability_Mode_loss_and_delay,
			AuthType: bfd.AuthType(s.GetAuthType())}
	}
	return c, nil
}

func parseAddr(p *gpb.Path, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, invalid(p, "%q is not an IP address", s)
	}
	return a.Unmap().WithZone(""), nil
}

// desired computes every session the configuration asks for; it is also
// the Validate check.
func desired(root *gen.Device) (map[sessKey]wanted, error) {
	out := map[sessKey]wanted{}
	b := root.GetBfd()
	if b == nil {
		return out, nil
	}
	profiles := map[string]bfd.SessionConfig{}
	for name, p := range profilesOf(b) {
		c, err := profileSettings(name, p)
		if err != nil {
			return nil, err
		}
		profiles[name] = c
	}
	base := func(sp *gpb.Path, profile *string) (bfd.SessionConfig, error) {
		if profile == nil {
			return profileSettings("", nil)
		}
		c, ok := profiles[*profile]
		if !ok {
			return c, invalid(path(append(sp.Elem, elem("profile"))...), "profile %q does not exist", *profile)
		}
		// Keys are shared with the profile map: copy so sessions
		// never alias one another's configuration.
		c.Auth.Keys = append([]bfd.Key(nil), c.Auth.Keys...)
		return c, nil
	}
	for k, s := range singleHops(b) {
		key := sessKey{kind: bfd.PathSingleHop, a: k.Interface, b: k.DestAddr}
		sp := key.path()
		dst, err := parseAddr(sp, k.DestAddr)
		if err != nil {
			return nil, err
		}
		c, err := base(sp, s.Profile)
		if err != nil {
			return nil, err
		}
		tk := trKey{kind: bfd.PathSingleHop, ipv6: dst.Is6(), iface: k.Interface, ttl: 255}
		if s.LocalAddress != nil {
			la, err := parseAddr(path(append(sp.Elem, elem("local-address"))...), *s.LocalAddress)
			if err != nil {
				return nil, err
			}
			if la.Is6() != dst.Is6() {
				return nil, invalid(path(append(sp.Elem, elem("local-address"))...), "local address %s and peer %s are of different families", la, dst)
			}
			tk.local = la
		}
		c.AdminDown = s.GetAdminDown()
		c.MinRxTTL = 255
		c.Tag = key
		out[key] = wanted{tr: tk, remote: dst, cfg: c}
	}
	for k, s := range multiHops(b) {
		key := sessKey{kind: bfd.PathMultiHop, a: k.SourceAddr, b: k.DestAddr}
		sp := key.path()
		src, err := parseAddr(sp, k.SourceAddr)
		if err != nil {
			return nil, err
		}
		dst, err := parseAddr(sp, k.DestAddr)
		if err != nil {
			return nil, err
		}
		if src.Is6() != dst.Is6() {
			return nil, invalid(sp, "source %s and destination %s are of different families", src, dst)
		}
		if s.LocalAddress != nil {
			la, err := parseAddr(path(append(sp.Elem, elem("local-address"))...), *s.LocalAddress)
			if err != nil {
				return nil, err
			}
			if la != src {
				return nil, invalid(path(append(sp.Elem, elem("local-address"))...), "local-address %s differs from source-addr %s", la, src)
			}
		}
		c, err := base(sp, s.Profile)
		if err != nil {
			return nil, err
		}
		ttl := uint8(255)
		if s.TxTtl != nil {
			ttl = *s.TxTtl
		}
		c.MinRxTTL = defaultMinRxTTLMultiHop
		if s.RxTtl != nil {
			c.MinRxTTL = *s.RxTtl
		}
		c.AdminDown = s.GetAdminDown()
		c.Tag = key
		out[key] = wanted{tr: trKey{kind: bfd.PathMultiHop, ipv6: dst.Is6(), local: src, ttl: ttl}, remote: dst, cfg: c}
	}
	for name, in := range initiators(b) {
		key := sessKey{kind: bfd.PathSBFD, a: name}
		sp := key.path()
		if in.TargetAddress == nil || in.RemoteDiscriminator == nil {
			return nil, invalid(sp, "an initiator needs target-address and remote-discriminator")
		}
		dst, err := parseAddr(path(append(sp.Elem, elem("target-address"))...), *in.TargetAddress)
		if err != nil {
			return nil, err
		}
		tk := trKey{kind: bfd.PathSBFD, ipv6: dst.Is6(), ttl: 255}
		if in.LocalAddress != nil {
			la, err := parseAddr(path(append(sp.Elem, elem("local-address"))...), *in.LocalAddress)
			if err != nil {
				return nil, err
			}
			if la.Is6() != dst.Is6() {
				return nil, invalid(path(append(sp.Elem, elem("local-address"))...), "local address %s and target %s are of different families", la, dst)
			}
			tk.local = la
		}
		c, err := base(sp, in.Profile)
		if err != nil {
			return nil, err
		}
		c.Passive = false // initiators always send first
		c.SBFDRemoteDiscr = *in.RemoteDiscriminator
		c.AdminDown = in.GetAdminDown()
		c.Tag = key
		out[key] = wanted{tr: tk, remote: dst, cfg: c}
	}
	return out, nil
}

// reflectorWanted is the reflector the configuration asks for; nil when
// disabled.
type reflectorWanted struct {
	cfg   bfd.ReflectorConfig
	local netip.Addr
}

func desiredReflector(root *gen.Device) (*reflectorWanted, error) {
	b := root.GetBfd()
	if b == nil || b.Sbfd == nil || b.Sbfd.Reflector == nil || !b.Sbfd.Reflector.GetEnabled() {
		return nil, nil
	}
	r := b.Sbfd.Reflector
	rp := path(elem("bfd"), elem("sbfd"), elem("reflector"))
	if len(r.Discriminator) == 0 {
		return nil, invalid(path(append(rp.Elem, elem("discriminator"))...), "an enabled reflector needs at least one discriminator")
	}
	w := &reflectorWanted{cfg: bfd.ReflectorConfig{Discriminators: append([]uint32(nil), r.Discriminator...), AdminDown: r.GetAdminDown()}}
	if r.LocalAddress != nil {
		la, err := parseAddr(path(append(rp.Elem, elem("local-address"))...), *r.LocalAddress)
		if err != nil {
			return nil, err
		}
		w.local = la
	}
	return w, nil
}

func initiators(b *gen.WirebeatBfd_Bfd) map[string]*gen.WirebeatBfd_Bfd_Sbfd_Initiator {
	if b.Sbfd == nil {
		return nil
	}
	return b.Sbfd.Initiator
}

func (k sessKey) String() string { return fmt.Sprintf("%v %s %s", k.kind, k.a, k.b) }

// The generated getters create containers; these read without writing to
// the (read-only) tree.
func singleHops(b *gen.WirebeatBfd_Bfd) map[gen.WirebeatBfd_Bfd_SingleHop_Session_Key]*gen.WirebeatBfd_Bfd_SingleHop_Session {
	if b.SingleHop == nil {
		return nil
	}
	return b.SingleHop.Session
}

func multiHops(b *gen.WirebeatBfd_Bfd) map[gen.WirebeatBfd_Bfd_MultiHop_Session_Key]*gen.WirebeatBfd_Bfd_MultiHop_Session {
	if b.MultiHop == nil {
		return nil
	}
	return b.MultiHop.Session
}

func profilesOf(b *gen.WirebeatBfd_Bfd) map[string]*gen.WirebeatBfd_Bfd_Profiles_Profile {
	if b.Profiles == nil {
		return nil
	}
	return b.Profiles.Profile
}
