// Package classify is the SFC classifier (seed 004 section 5.2): rules on
// source and destination prefix, DSCP, protocol and source and destination
// port ranges, each bound to exactly one SF Map Index. The first matching
// rule by priority wins (lower first; equal priorities by rule name).
//
// Lookup is a tuple space search: rules are grouped by the pair of prefix
// lengths they use, each group is a hash table keyed by the masked
// addresses, and groups are visited in order of their best rule so that
// the search stops as soon as no later group can hold a better match.
// Within one hash bucket, rules with a single destination port are indexed
// by that port. A packet costs one hash probe per group visited, not one
// test per rule.
package classify

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// PortRange is an inclusive range; the zero value (Set false) matches any
// packet, with ports or not.
type PortRange struct {
	Set    bool
	Lo, Hi uint16
}

// Rule is one classification rule. Zero-valued fields match anything.
type Rule struct {
	Name     string
	Priority uint32
	Src, Dst netip.Prefix // invalid (zero) prefix: any address of any family
	HasDSCP  bool
	DSCP     uint8
	HasProto bool
	Proto    uint8
	SrcPort  PortRange
	DstPort  PortRange
	MapIndex uint32
}

// Key is what the classifier looks at in a packet; ParseIPv4 and ParseIPv6
// fill it. Addresses are 128-bit big-endian halves; an IPv4 address sits in
// the top 32 bits of Hi.
type Key struct {
	V6       bool
	Src, Dst [2]uint64
	DSCP     uint8
	Proto    uint8
	HasPorts bool // TCP, UDP or SCTP with the ports present (not a later fragment)
	Fragment bool // a fragment (first or later) of a larger packet
	SrcPort  uint16
	DstPort  uint16
}

type compiled struct {
	Rule
	v4, v6 bool // families the rule can match
}

// bucket holds the rules of one masked address pair. In a large bucket,
// rules with a destination port range are indexed by it: the port space is
// cut into elementary intervals at every range boundary, and each interval
// lists (by rank) the rules whose range covers it, so a lookup binary
// searches its port and scans only those.
type bucket struct {
	bounds []uint16  // starts of the elementary intervals, ascending, bounds[0] == 0
	lists  [][]int32 // rules covering each interval, by rank
	other  []int32   // rules not in the index, by rank
}

type tuple struct {
	srcMask, dstMask [2]uint64
	best             int32 // lowest rank in the group
	m                map[[4]uint64]*bucket
}

// Classifier is an immutable compiled rule set, safe for concurrent
// lookups.
type Classifier struct {
	rules  []compiled // by rank
	v4, v6 []*tuple   // by best rank
}

// splitPortsAt is the bucket size above which destination port ranges
// are indexed; maxIndexFactor bounds the index to that many entries per
// rule (heavily overlapping ranges stay in the linear list instead).
const (
	splitPortsAt   = 8
	maxIndexFactor = 32
)

// Errors of New.
var (
	ErrFamily    = errors.New("source and destination prefixes of different address families")
	ErrPortRange = errors.New("port range upper below lower")
)

// New compiles rules. It does not keep the slice.
func New(rules []Rule) (*Classifier, error) {
	c := &Classifier{rules: make([]compiled, len(rules))}
	for i, r := range rules {
		if r.Src.IsValid() && r.Dst.IsValid() && r.Src.Addr().Is4() != r.Dst.Addr().Is4() {
			return nil, fmt.Errorf("rule %q: %w", r.Name, ErrFamily)
		}
		for _, p := range []PortRange{r.SrcPort, r.DstPort} {
			if p.Set && p.Hi < p.Lo {
				return nil, fmt.Errorf("rule %q: %w", r.Name, ErrPortRange)
			}
		}
		r.Src, r.Dst = r.Src.Masked(), r.Dst.Masked()
		cr := compiled{Rule: r, v4: true, v6: true}
		for _, p := range []netip.Prefix{r.Src, r.Dst} {
			if p.IsValid() {
				cr.v4, cr.v6 = p.Addr().Is4(), !p.Addr().Is4()
			}
		}
		c.rules[i] = cr
	}
	slices.SortStableFunc(c.rules, func(a, b compiled) int {
		if d := cmp.Compare(a.Priority, b.Priority); d != 0 {
			return d
		}
		return cmp.Compare(a.Name, b.Name)
	})
	groups := map[[3]int]*tuple{}
	for rank, r := range c.rules {
		for fam, ok := range [2]bool{r.v4, r.v6} {
			if !ok {
				continue
			}
			sl, dl := bitsOf(r.Src), bitsOf(r.Dst)
			g := groups[[3]int{fam, sl, dl}]
			if g == nil {
				if fam == 0 { // IPv4 lengths count from the top of Hi
					sl, dl = min(sl, 32), min(dl, 32)
				}
				g = &tuple{srcMask: mask(sl), dstMask: mask(dl), best: int32(rank), m: map[[4]uint64]*bucket{}}
				groups[[3]int{fam, sl, dl}] = g
				if fam == 0 {
					c.v4 = append(c.v4, g)
				} else {
					c.v6 = append(c.v6, g)
				}
			}
			hk := [4]uint64{}
			if r.Src.IsValid() {
				s := words(r.Src.Addr())
				hk[0], hk[1] = s[0], s[1]
			}
			if r.Dst.IsValid() {
				d := words(r.Dst.Addr())
				hk[2], hk[3] = d[0], d[1]
			}
			b := g.m[hk]
			if b == nil {
				b = &bucket{}
				g.m[hk] = b
			}
			b.other = append(b.other, int32(rank))
		}
	}
	for _, ts := range [][]*tuple{c.v4, c.v6} {
		slices.SortFunc(ts, func(a, b *tuple) int { return cmp.Compare(a.best, b.best) })
		for _, t := range ts {
			for _, b := range t.m {
				c.splitPorts(b)
			}
		}
	}
	return c, nil
}

func (c *Classifier) splitPorts(b *bucket) {
	if len(b.other) <= splitPortsAt {
		return
	}
	var ranged, rest []int32
	cut := map[uint32]bool{0: true}
	for _, rank := range b.other {
		p := c.rules[rank].DstPort
		if !p.Set {
			rest = append(rest, rank)
			continue
		}
		ranged = append(ranged, rank)
		cut[uint32(p.Lo)] = true
		cut[uint32(p.Hi)+1] = true
	}
	if len(ranged) == 0 {
		return
	}
	for v := range cut {
		if v <= 0xffff {
			b.bounds = append(b.bounds, uint16(v))
		}
	}
	slices.Sort(b.bounds)
	// Size the index first: a difference array over the intervals.
	diff := make([]int, len(b.bounds)+1)
	for _, rank := range ranged {
		lo, hi := b.interval(c.rules[rank].DstPort)
		diff[lo]++
		diff[hi+1]--
	}
	total, run := 0, 0
	for i := range b.bounds {
		run += diff[i]
		total += run
	}
	if total > maxIndexFactor*len(ranged) {
		b.bounds = nil
		return
	}
	b.lists = make([][]int32, len(b.bounds))
	for _, rank := range ranged { // by rank: every list stays sorted
		lo, hi := b.interval(c.rules[rank].DstPort)
		for i := lo; i <= hi; i++ {
			b.lists[i] = append(b.lists[i], rank)
		}
	}
	b.other = rest
}

// interval returns the first and last elementary interval a range covers.
func (b *bucket) interval(p PortRange) (int, int) {
	return b.find(p.Lo), b.find(p.Hi)
}

// find returns the elementary interval holding port.
func (b *bucket) find(port uint16) int {
	i, found := slices.BinarySearch(b.bounds, port)
	if !found {
		i--
	}
	return i
}

func bitsOf(p netip.Prefix) int {
	if !p.IsValid() {
		return 0
	}
	return p.Bits()
}

// mask returns the 128-bit mask of a prefix length.
func mask(bits int) [2]uint64 {
	var m [2]uint64
	switch {
	case bits >= 128:
		m = [2]uint64{^uint64(0), ^uint64(0)}
	case bits > 64:
		m = [2]uint64{^uint64(0), ^uint64(0) << (128 - bits)}
	case bits > 0:
		m = [2]uint64{^uint64(0) << (64 - bits), 0}
	}
	return m
}

// words puts an address in Key form.
func words(a netip.Addr) [2]uint64 {
	if a.Is4() {
		b := a.As4()
		return [2]uint64{uint64(binary.BigEndian.Uint32(b[:])) << 32, 0}
	}
	b := a.As16()
	return [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// Len is the number of rules.
func (c *Classifier) Len() int { return len(c.rules) }

// Rule returns the rule of a rank Lookup returned.
func (c *Classifier) Rule(rank int) *Rule { return &c.rules[rank].Rule }

// Lookup returns the rank of the first matching rule (see Rule), or -1.
func (c *Classifier) Lookup(k *Key) int {
	if c == nil {
		return -1
	}
	ts := c.v4
	if k.V6 {
		ts = c.v6
	}
	best := int32(len(c.rules))
	for _, t := range ts {
		if t.best >= best {
			break // groups are sorted by their best rule: none can win
		}
		hk := [4]uint64{k.Src[0] & t.srcMask[0], k.Src[1] & t.srcMask[1], k.Dst[0] & t.dstMask[0], k.Dst[1] & t.dstMask[1]}
		b := t.m[hk]
		if b == nil {
			continue
		}
		if b.bounds != nil && k.HasPorts {
			best = c.scan(b.lists[b.find(k.DstPort)], k, best)
		}
		best = c.scan(b.other, k, best)
	}
	if int(best) == len(c.rules) {
		return -1
	}
	return int(best)
}

// scan returns the rank of the first rule of ranks (sorted) that matches k
// and is below best, else best.
func (c *Classifier) scan(ranks []int32, k *Key, best int32) int32 {
	for _, rank := range ranks {
		if rank >= best {
			return best
		}
		if c.rules[rank].matchRest(k) {
			return rank
		}
	}
	return best
}

// matchRest checks everything but the addresses (the hash key did those).
func (r *compiled) matchRest(k *Key) bool {
	if r.HasDSCP && r.DSCP != k.DSCP {
		return false
	}
	if r.HasProto && r.Proto != k.Proto {
		return false
	}
	if r.SrcPort.Set && (!k.HasPorts || k.SrcPort < r.SrcPort.Lo || k.SrcPort > r.SrcPort.Hi) {
		return false
	}
	if r.DstPort.Set && (!k.HasPorts || k.DstPort < r.DstPort.Lo || k.DstPort > r.DstPort.Hi) {
		return false
	}
	return true
}

// IP protocol numbers with ports at the start of their header.
const (
	protoTCP  = 6
	protoUDP  = 17
	protoSCTP = 132
)

// Parse errors.
var (
	ErrShort   = errors.New("classify: packet too short for its IP header")
	ErrVersion = errors.New("classify: not an IPv4 or IPv6 packet")
)

// Parse fills k from an IPv4 or IPv6 packet (by its version nibble).
func Parse(pkt []byte, k *Key) error {
	if len(pkt) == 0 {
		return ErrShort
	}
	switch pkt[0] >> 4 {
	case 4:
		return ParseIPv4(pkt, k)
	case 6:
		return ParseIPv6(pkt, k)
	}
	return ErrVersion
}

// ParseIPv4 fills k from an IPv4 packet. Ports are read only from a first
// (or only) fragment.
func ParseIPv4(pkt []byte, k *Key) error {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return ErrShort
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < 20 || len(pkt) < ihl {
		return ErrShort
	}
	*k = Key{
		Src:   [2]uint64{uint64(binary.BigEndian.Uint32(pkt[12:16])) << 32, 0},
		Dst:   [2]uint64{uint64(binary.BigEndian.Uint32(pkt[16:20])) << 32, 0},
		DSCP:  pkt[1] >> 2,
		Proto: pkt[9],
	}
	ff := binary.BigEndian.Uint16(pkt[6:8])
	k.Fragment = ff&0x3fff != 0 // MF or an offset
	if ff&0x1fff == 0 {
		k.ports(pkt[ihl:])
	}
	return nil
}

// ParseIPv6 fills k from an IPv6 packet, walking the extension headers
// (at most 8) to the final next header.
func ParseIPv6(pkt []byte, k *Key) error {
	if len(pkt) < 40 || pkt[0]>>4 != 6 {
		return ErrShort
	}
	*k = Key{
		V6:   true,
		Src:  [2]uint64{binary.BigEndian.Uint64(pkt[8:16]), binary.BigEndian.Uint64(pkt[16:24])},
		Dst:  [2]uint64{binary.BigEndian.Uint64(pkt[24:32]), binary.BigEndian.Uint64(pkt[32:40])},
		DSCP: uint8(binary.BigEndian.Uint16(pkt[0:2])>>4) >> 2,
	}
	nh, rest := pkt[6], pkt[40:]
	for range 8 {
		switch nh {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(rest) < 8 {
				k.Proto = nh
				return nil
			}
			l := (int(rest[1]) + 1) * 8
			if len(rest) < l {
				k.Proto = nh
				return nil
			}
			nh, rest = rest[0], rest[l:]
			continue
		case 44: // fragment
			if len(rest) < 8 {
				k.Proto = nh
				return nil
			}
			fo := binary.BigEndian.Uint16(rest[2:4])
			first := fo&0xfff8 == 0
			k.Fragment = fo&0xfff9 != 0 // an offset or M; atomic fragments are whole
			nh, rest = rest[0], rest[8:]
			if !first {
				k.Proto = nh
				return nil
			}
			continue
		}
		break
	}
	k.Proto = nh
	k.ports(rest)
	return nil
}

func (k *Key) ports(l4 []byte) {
	switch k.Proto {
	case protoTCP, protoUDP, protoSCTP:
		if len(l4) >= 4 {
			k.HasPorts = true
			k.SrcPort = binary.BigEndian.Uint16(l4[0:2])
			k.DstPort = binary.BigEndian.Uint16(l4[2:4])
		}
	}
}
