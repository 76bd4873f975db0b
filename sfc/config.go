package sfc

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/sfc/classify"
	"github.com/wirebeat/wirebeat/sfc/node"
	"github.com/wirebeat/wirebeat/sfc/nsh"
	"github.com/wirebeat/wirebeat/sfc/transport"
)

// settings is everything the adapter derives from /sfc.
type settings struct {
	active bool // any of boundary, classifier, sf-node
	node   node.Config
	io     ioSettings
	watch  []watch
	// loopNotify: loop-detected notifications (action drop-and-notify).
	loopNotify bool
	// peers: the nodes NSH over Ethernet reaches (locators, boundary
	// and egress nodes), with configured MACs.
	peers []transport.Peer
}

// ioSettings are the sockets and interfaces the data plane needs; a
// change of them restarts the I/O, any other change only swaps the table.
type ioSettings struct {
	gpe        bool
	port       uint16
	local      netip.Addr
	ipv6       bool
	routingTUN string
	proxyTo    string
	proxyFrom  string
	// ether: NSH over Ethernet on iface instead of a UDP socket.
	ether bool
	iface string
	vlan  uint16 // 802.1Q VLAN of the NSH frames, 0 untagged
	// external: the external interfaces, comma separated (comparable).
	external string
}

// watch is one locator's liveness session.
type watch struct {
	sf       string
	addr     netip.Addr
	kind     bfd.PathKind
	local    netip.Addr
	discr    uint32
	tx, rx   uint32
	mult     uint8
	ifaceFor bool // single hop through the connected subnet (method bfd)
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

func sfcPath(elems ...*gpb.PathElem) *gpb.Path {
	return &gpb.Path{Elem: append([]*gpb.PathElem{elem("sfc")}, elems...)}
}

func invalid(p *gpb.Path, format string, args ...any) error {
	return schema.Errorf(schema.TagInvalidValue, p, format, args...)
}

func notSupported(p *gpb.Path, format string, args ...any) error {
	return schema.Errorf(schema.TagOperationNotSupp, p, format, args...)
}

// translate maps the tree to engine settings, checking what YANG cannot.
func translate(root *gen.Device) (*settings, error) {
	s := &settings{}
	c := root.GetSfc()
	if c == nil {
		return s, nil
	}
	nd := c.GetNode()
	roles := nd.GetRole()
	for _, r := range roles {
		switch r {
		case gen.WirebeatSfc_NodeRole_boundary:
			s.node.Boundary = true
		case gen.WirebeatSfc_NodeRole_classifier:
			s.node.Classifier = true
		case gen.WirebeatSfc_NodeRole_sf_node:
			s.node.SFNode = true
		case gen.WirebeatSfc_NodeRole_intermediate:
			if len(roles) > 1 {
				return nil, invalid(sfcPath(elem("node"), elem("role")), "intermediate cannot be combined with another role")
			}
		}
	}
	s.active = s.node.Boundary || s.node.Classifier || s.node.SFNode
	if ext := nd.GetExternalInterface(); len(ext) > 0 {
		if !s.node.Boundary && !s.node.Classifier {
			return nil, invalid(sfcPath(elem("node"), elem("external-interface")), "external interfaces need the boundary or classifier role")
		}
		s.io.external = strings.Join(ext, ",")
	}
	if s.node.SFNode && nd.GetLocalSfId() == "" {
		return nil, schema.Errorf(schema.TagMissingElement, sfcPath(elem("node"), elem("local-sf-id")), "the sf-node role needs local-sf-id")
	}
	s.node.LocalSF = nd.GetLocalSfId()
	for _, a := range nd.GetBoundaryNode() {
		ad, err := netip.ParseAddr(a)
		if err != nil {
			return nil, invalid(sfcPath(elem("node"), elem("boundary-node")), "%v", err)
		}
		s.node.BoundaryNodes = append(s.node.BoundaryNodes, ad.Unmap())
		s.peers = append(s.peers, transport.Peer{Addr: ad.Unmap()})
	}
	s.io.routingTUN = nd.GetRoutingInterface()
	if (s.node.Boundary || s.node.Classifier) && s.io.routingTUN == "" {
		return nil, schema.Errorf(schema.TagMissingElement, sfcPath(elem("node"), elem("routing-interface")),
			"the boundary and classifier roles need routing-interface")
	}
	lf := nd.GetLocalFunction()
	if lf.GetKind() == gen.WirebeatSfc_Sfc_Node_LocalFunction_Kind_proxy {
		s.node.LocalKind = node.Proxy
		s.io.proxyTo, s.io.proxyFrom = lf.GetToInterface(), lf.GetFromInterface()
		if s.node.SFNode && (s.io.proxyTo == "" || s.io.proxyFrom == "") {
			return nil, schema.Errorf(schema.TagMissingElement, sfcPath(elem("node"), elem("local-function")),
				"a proxy needs to-interface and from-interface")
		}
		if s.io.proxyTo == s.io.proxyFrom && s.io.proxyTo != "" {
			return nil, invalid(sfcPath(elem("node"), elem("local-function"), elem("from-interface")), "from-interface must differ from to-interface")
		}
	}
	if !s.node.SFNode {
		s.io.proxyTo, s.io.proxyFrom = "", ""
	}
	s.node.Lightweight = nd.GetPolicyTable().GetMode() == gen.WirebeatSfc_PolicyTableMode_lightweight
	ld := c.GetLoopDetection()
	s.node.LoopDetection = ld.GetEnabled()
	s.loopNotify = ld.GetAction() == gen.WirebeatSfc_LoopAction_drop_and_notify
	if ld.GetAction() == gen.WirebeatSfc_LoopAction_forward {
		s.node.LoopAction = node.LoopForward
	} else {
		s.node.LoopAction = node.LoopDrop
	}
	if s.node.Lightweight && s.node.LoopDetection {
		return nil, invalid(sfcPath(elem("node"), elem("policy-table"), elem("mode")),
			"a lightweight policy table needs loop detection disabled (seed 004 section 9.7)")
	}

	enc := c.GetEncapsulation()
	switch enc.GetTransport() {
	case gen.WirebeatSfc_Sfc_Encapsulation_Transport_vxlan_gpe:
		s.io.gpe, s.io.port = true, 4790
	case gen.WirebeatSfc_Sfc_Encapsulation_Transport_udp:
		s.io.port = enc.GetUdpPort()
	case gen.WirebeatSfc_Sfc_Encapsulation_Transport_ethernet:
		s.io.ether, s.io.iface = true, enc.GetInterface()
		if s.active && s.io.iface == "" {
			return nil, schema.Errorf(schema.TagMissingElement, sfcPath(elem("encapsulation"), elem("interface")),
				"transport ethernet needs encapsulation/interface")
		}
	default:
		if s.active {
			return nil, notSupported(sfcPath(elem("encapsulation"), elem("transport")),
				"transport %s is not in this build yet; use vxlan-gpe, udp or ethernet", enc.GetTransport())
		}
	}
	if v := enc.GetVlanId(); v != 0 {
		if !s.io.ether {
			return nil, invalid(sfcPath(elem("encapsulation"), elem("vlan-id")), "vlan-id is for transport ethernet")
		}
		s.io.vlan = v
	}
	if la := enc.GetLocalAddress(); la != "" {
		a, err := netip.ParseAddr(la)
		if err != nil {
			return nil, invalid(sfcPath(elem("encapsulation"), elem("local-address")), "%v", err)
		}
		s.io.local = a.Unmap()
	}
	s.node.MDType, s.node.TTL = enc.GetMdType(), enc.GetTtl()
	outer := 20 + 8 // what the mtu must hold besides the NSH packet
	if s.io.gpe {
		outer += 8
	}
	if s.io.ether {
		outer = 0 // the mtu is the link's: NSH is the frame's payload (802.1Q tag included)
	}

	var sfs map[string]*gen.WirebeatSfc_Sfc_ServiceFunctions_ServiceFunction
	if c.ServiceFunctions != nil {
		sfs = c.ServiceFunctions.ServiceFunction
	}
	ids := sortedKeys(sfs)
	fam := map[bool]bool{}
	for _, id := range ids {
		sf := sfs[id]
		n := node.SF{ID: id}
		lv := sf.GetLiveness()
		for _, la := range sortedKeys(sf.Locator) {
			l := sf.Locator[la]
			p := sfcPath(elem("service-functions"), elem("service-function", "id", id), elem("locator", "address", la))
			a, err := netip.ParseAddr(la)
			if err != nil {
				return nil, invalid(p, "%v", err)
			}
			a = a.Unmap()
			fam[a.Is6()] = true
			n.Locators = append(n.Locators, node.Locator{Addr: a, Priority: l.GetPriority(), Weight: l.GetWeight()})
			peer := transport.Peer{Addr: a}
			if m := l.GetMacAddress(); m != "" {
				if peer.MAC, err = net.ParseMAC(m); err != nil {
					return nil, invalid(p, "mac-address: %v", err)
				}
			}
			s.peers = append(s.peers, peer)
			if w, err := watchFor(root, id, a, l, lv, p); err != nil {
				return nil, err
			} else if w != nil {
				s.watch = append(s.watch, *w)
			}
		}
		s.node.SFs = append(s.node.SFs, n)
	}
	if s.active && s.io.local.IsValid() {
		// A locator at this node's own address for an SF it does not
		// host would send packets back to itself until their TTL ran
		// out.
		for _, sf := range s.node.SFs {
			for _, l := range sf.Locators {
				if l.Addr == s.io.local && (!s.node.SFNode || sf.ID != s.node.LocalSF) {
					return nil, invalid(locatorPath(sf.ID, l.Addr), "locator %s is this node's own address (encapsulation/local-address), but %q is not its local SF", l.Addr, sf.ID)
				}
			}
		}
	}
	if s.active && fam[true] && fam[false] {
		return nil, invalid(sfcPath(elem("service-functions")), "locators of both address families: one transport socket carries one family")
	}
	s.io.ipv6 = fam[true] || s.io.local.Is6()
	if s.io.ipv6 && !s.io.ether {
		outer += 20
	}
	s.node.MaxNSHPacket = int(enc.GetMtu()) - outer

	var maps map[uint32]*gen.WirebeatSfc_Sfc_SfMaps_SfMap
	if c.SfMaps != nil {
		maps = c.SfMaps.SfMap
	}
	for _, idx := range sortedKeys(maps) {
		m := maps[idx]
		p := sfcPath(elem("sf-maps"), elem("sf-map", "index", fmt.Sprint(idx)))
		nm := node.Map{Index: idx, SFs: slices.Clone(m.GetServiceFunction())}
		if m.GetOnFailure() == gen.WirebeatSfc_Sfc_SfMaps_SfMap_OnFailure_skip {
			nm.OnFailure = node.FailSkip
		}
		if e := m.GetEgressNode(); e != "" {
			a, err := netip.ParseAddr(e)
			if err != nil {
				return nil, invalid(p, "egress-node: %v", err)
			}
			nm.Egress = a.Unmap()
			s.peers = append(s.peers, transport.Peer{Addr: nm.Egress})
		}
		md := m.GetMetadata()
		if h := md.GetMd1Context(); h != "" {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != 16 {
				return nil, invalid(p, "metadata/md1-context: 32 hex digits")
			}
			copy(nm.MD1[:], b)
		}
		if md != nil && len(md.Tlv) > 0 {
			keys := make([]gen.WirebeatSfc_Sfc_SfMaps_SfMap_Metadata_Tlv_Key, 0, len(md.Tlv))
			for k := range md.Tlv {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				if keys[i].Class != keys[j].Class {
					return keys[i].Class < keys[j].Class
				}
				return keys[i].Type < keys[j].Type
			})
			for _, k := range keys {
				t := md.Tlv[k]
				v, err := hex.DecodeString(t.GetValue())
				if err != nil {
					return nil, invalid(p, "metadata/tlv: value: %v", err)
				}
				if nm.MD2, err = nsh.AppendTLV(nm.MD2, nsh.TLV{Class: t.GetClass(), Type: t.GetType(), Value: v}); err != nil {
					return nil, invalid(p, "metadata/tlv: %v", err)
				}
			}
			if nsh.MinLen+len(nm.MD2) > nsh.MaxLen {
				return nil, invalid(p, "metadata/tlv: %d octets of context headers, at most %d fit in an NSH", len(nm.MD2), nsh.MaxLen-nsh.MinLen)
			}
		}
		s.node.Maps = append(s.node.Maps, nm)
	}

	cl := c.GetClassifier()
	s.node.UnmatchedDrop = cl.GetUnmatchedAction() == gen.WirebeatSfc_Sfc_Classifier_UnmatchedAction_drop
	var rules map[string]*gen.WirebeatSfc_Sfc_Classifier_Rule
	if cl != nil {
		rules = cl.Rule
	}
	for _, name := range sortedKeys(rules) {
		r, err := rule(name, rules[name])
		if err != nil {
			return nil, err
		}
		s.node.Rules = append(s.node.Rules, r)
	}
	return s, nil
}

func rule(name string, r *gen.WirebeatSfc_Sfc_Classifier_Rule) (classify.Rule, error) {
	p := sfcPath(elem("classifier"), elem("rule", "name", name))
	out := classify.Rule{Name: name, Priority: r.GetPriority(), MapIndex: r.GetSfMapIndex()}
	m := r.GetMatch()
	var err error
	if v := m.GetSourcePrefix(); v != "" {
		if out.Src, err = netip.ParsePrefix(v); err != nil {
			return out, invalid(p, "source-prefix: %v", err)
		}
	}
	if v := m.GetDestinationPrefix(); v != "" {
		if out.Dst, err = netip.ParsePrefix(v); err != nil {
			return out, invalid(p, "destination-prefix: %v", err)
		}
	}
	if out.Src.IsValid() && out.Dst.IsValid() && out.Src.Addr().Is4() != out.Dst.Addr().Is4() {
		return out, invalid(p, "source-prefix and destination-prefix of different address families")
	}
	if m.Dscp != nil {
		out.HasDSCP, out.DSCP = true, *m.Dscp
	}
	if m.Protocol != nil {
		out.HasProto, out.Proto = true, *m.Protocol
	}
	var ranges [2]struct{ lo, hi *uint16 }
	if sp := m.GetSourcePort(); sp != nil {
		ranges[0].lo, ranges[0].hi = sp.Lower, sp.Upper
	}
	if dp := m.GetDestinationPort(); dp != nil {
		ranges[1].lo, ranges[1].hi = dp.Lower, dp.Upper
	}
	for i, pr := range ranges {
		leaf := [...]string{"source-port", "destination-port"}[i]
		if pr.hi != nil && pr.lo == nil {
			return out, invalid(p, "%s/upper needs lower", leaf)
		}
		if pr.lo == nil {
			continue
		}
		rg := classify.PortRange{Set: true, Lo: *pr.lo, Hi: *pr.lo}
		if pr.hi != nil {
			rg.Hi = *pr.hi
		}
		if rg.Hi < rg.Lo {
			return out, invalid(p, "%s/upper %d below lower %d", leaf, rg.Hi, rg.Lo)
		}
		if i == 0 {
			out.SrcPort = rg
		} else {
			out.DstPort = rg
		}
	}
	return out, nil
}

// watchFor derives a locator's liveness session from its SF's method.
func watchFor(root *gen.Device, sf string, a netip.Addr, l *gen.WirebeatSfc_Sfc_ServiceFunctions_ServiceFunction_Locator,
	lv *gen.WirebeatSfc_Sfc_ServiceFunctions_ServiceFunction_Liveness, p *gpb.Path) (*watch, error) {
	w := &watch{sf: sf, addr: a, tx: 1_000_000, rx: 1_000_000, mult: 3}
	switch lv.GetMethod() {
	case gen.WirebeatSfc_Sfc_ServiceFunctions_ServiceFunction_Liveness_Method_bfd:
		w.kind, w.ifaceFor = bfd.PathSingleHop, true
	case gen.WirebeatSfc_Sfc_ServiceFunctions_ServiceFunction_Liveness_Method_single_hop:
		w.kind, w.ifaceFor = bfd.PathSingleHop, true
	case gen.WirebeatSfc_Sfc_ServiceFunctions_ServiceFunction_Liveness_Method_multi_hop:
		w.kind = bfd.PathMultiHop
	case gen.WirebeatSfc_Sfc_ServiceFunctions_ServiceFunction_Liveness_Method_sbfd:
		w.kind = bfd.PathSBFD
		if l.SbfdDiscriminator == nil {
			return nil, schema.Errorf(schema.TagMissingElement, p, "liveness method sbfd needs sbfd-discriminator")
		}
		w.discr = *l.SbfdDiscriminator
	default:
		return nil, nil
	}
	if la := lv.GetLocalAddress(); la != "" {
		ad, err := netip.ParseAddr(la)
		if err != nil {
			return nil, invalid(p, "liveness/local-address: %v", err)
		}
		w.local = ad.Unmap()
	}
	if (w.kind == bfd.PathMultiHop || w.kind == bfd.PathSBFD) && !w.local.IsValid() {
		return nil, schema.Errorf(schema.TagMissingElement, p, "liveness method %s needs liveness/local-address", lv.GetMethod())
	}
	if w.local.IsValid() && w.local.Is4() != a.Is4() {
		return nil, invalid(p, "liveness/local-address %s and locator of different address families", w.local)
	}
	if name := lv.GetBfdProfile(); name != "" {
		// The leafref makes sure the profile exists.
		pr := root.GetBfd().GetProfiles().GetProfile(name)
		if v := pr.GetDesiredMinTxInterval(); v != 0 {
			w.tx = v
		}
		if v := pr.GetRequiredMinRxInterval(); v != 0 {
			w.rx = v
		}
		if v := pr.GetDetectionMultiplier(); v != 0 {
			w.mult = v
		}
	}
	return w, nil
}

// connectedInterface returns the interface whose subnet holds a, for
// single-hop sessions.
func connectedInterface(a netip.Addr) (string, netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", netip.Addr{}, err
	}
	for _, ifi := range ifs {
		addrs, _ := ifi.Addrs()
		for _, ad := range addrs {
			ipn, ok := ad.(*net.IPNet)
			if !ok {
				continue
			}
			pfx, err := netip.ParsePrefix(ipn.String())
			if err != nil {
				continue
			}
			if pfx.Contains(a) && pfx.Addr().Unmap() != a {
				return ifi.Name, pfx.Addr().Unmap(), nil
			}
		}
	}
	return "", netip.Addr{}, fmt.Errorf("%s is not on a connected subnet", a)
}

func sortedKeys[K string | uint32, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
