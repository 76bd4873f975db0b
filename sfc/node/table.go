package node

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/wirebeat/wirebeat/sfc/classify"
	"github.com/wirebeat/wirebeat/sfc/nsh"
)

// Liveness is a locator's monitoring verdict.
type Liveness uint8

// Liveness values; Unknown (not monitored, or no verdict yet) is usable.
const (
	Unknown Liveness = iota
	Up
	Down
)

func (l Liveness) String() string {
	return [...]string{"unknown", "up", "down"}[l]
}

// OnFailure is what a map does when no locator of one of its SFs is usable.
type OnFailure uint8

// OnFailure values.
const (
	FailDrop OnFailure = iota // drop and count sf-unreachable
	FailSkip                  // go on with the next SF of the map
)

// LoopAction is what happens to a packet loop detection catches.
type LoopAction uint8

// LoopAction values.
const (
	// LoopForward forwards without invoking the local SF (seed 004
	// section 9.6).
	LoopForward LoopAction = iota
	LoopDrop
)

// LocalKind is the kind of the SF embedded in this node.
type LocalKind uint8

// Local SF kinds.
const (
	// PassThrough counts and passes the packet: the built-in SF.
	PassThrough LocalKind = iota
	// Proxy hands the packet without NSH to an NSH-unaware function and
	// restores the NSH when it comes back (Worker.FromLegacy).
	Proxy
)

// Locator is one address of an SF node hosting an SF.
type Locator struct {
	Addr     netip.Addr
	Priority uint8  // lower preferred
	Weight   uint16 // share among equal priority
}

// SF is a service function and its locators.
type SF struct {
	ID       string
	Locators []Locator
}

// Map is an SF map: the SFs in invocation order.
type Map struct {
	Index     uint32
	SFs       []string
	OnFailure OnFailure
	// Egress is where packets go after the last SF when this node is not
	// the boundary that removes the NSH; invalid: the node past the last
	// SF decapsulates itself.
	Egress netip.Addr
	// MD1 is the fixed context written by the classifier (MD type 1); MD2
	// the context headers (whole TLVs, nsh.AppendTLV) for MD type 2.
	MD1 [16]byte
	MD2 []byte
}

// Config is a node's whole SFC configuration, as the PDP pushed it.
type Config struct {
	Boundary   bool // ingress and egress boundary of the domain
	Classifier bool
	SFNode     bool
	LocalSF    string
	LocalKind  LocalKind
	// Lightweight keeps only the entries this node needs (section 9.7).
	Lightweight   bool
	LoopDetection bool
	LoopAction    LoopAction
	// BoundaryNodes are the addresses packets from boundary nodes come
	// from: they pass loop detection.
	BoundaryNodes []netip.Addr
	MDType        uint8 // written by the classifier: 1 or 2
	TTL           uint8 // initial NSH TTL, 1..63
	// MaxNSHPacket is the largest NSH packet (header and inner packet) the
	// transport carries; larger IPv4 packets without DF are fragmented
	// with an NSH on every fragment (section 6); 0: no limit.
	MaxNSHPacket  int
	UnmatchedDrop bool
	SFs           []SF
	Maps          []Map
	Rules         []classify.Rule
}

// Configuration errors.
var (
	ErrLocalSF      = errors.New("local SF")
	ErrInconsistent = errors.New("policy table inconsistent with the local SF")
	ErrMap          = errors.New("SF map")
	ErrLightLoop    = errors.New("a lightweight policy table needs loop detection disabled (section 9.7)")
)

// MaxMapLen is the longest map: SI 255 reaches its first SF, and SI 0 is
// never a valid position, so that SI exhaustion is always detectable.
const MaxMapLen = 254

// sfState is one SF in a table with the live choice of its locators.
type sfState struct {
	id   string
	locs []Locator
	sel  atomic.Pointer[selector]
}

// selector spreads flows over the usable locators: slot = flow hash & 255.
// Slots are assigned by weighted rendezvous hashing, so when a locator
// goes out of rotation only its own slots move, and they come back to it
// when it returns.
type selector struct {
	slots [256]int8 // index into locs, -1 when none usable
	live  []netip.Addr
}

type hop struct {
	sf    *sfState
	local bool
}

// path is one map in the table.
type path struct {
	index     uint32
	hops      []hop // nil entries (sf nil) are positions a lightweight table does not keep
	kept      []bool
	keepEnd   bool
	onFailure OnFailure
	egress    netip.Addr
	md1       [16]byte
	md2       []byte
	// prev maps a previous-hop address to the earliest position of an SF
	// it is a locator of, for loop detection.
	prev map[netip.Addr]int
	ctr  *pathCounters
}

type pathCounters struct {
	si []siCounter // by position: 0 is SI 255; len(hops) the end
}

type siCounter struct {
	packets, bytes atomic.Uint64
}

// Table is the SFC policy table derived from a Config: immutable, except
// for the locator choice that liveness changes.
type Table struct {
	cfg      Config
	paths    map[uint32]*path
	sfs      map[string]*sfState
	boundary map[netip.Addr]bool
	members  map[netip.Addr]bool // boundary nodes, locators and egress nodes: the domain
	cls      *classify.Classifier
	ruleCtr  []*ruleCounter // by classifier rank
	// localPaths are the (map, position) pairs of the local SF, for the
	// proxy's return when its flow memory misses.
	localPaths [][2]uint32
}

type ruleCounter struct {
	name           string
	packets, bytes atomic.Uint64
}

// Build derives the policy table; it refuses configurations a node cannot
// run, before anything changes.
func Build(c Config) (*Table, error) {
	if c.TTL == 0 {
		c.TTL = nsh.DefaultTTL
	}
	if c.TTL > 63 {
		return nil, fmt.Errorf("ttl %d: at most 63", c.TTL)
	}
	if c.MDType == 0 {
		c.MDType = nsh.MDType1
	}
	if c.MDType != nsh.MDType1 && c.MDType != nsh.MDType2 {
		return nil, fmt.Errorf("md-type %d: 1 or 2", c.MDType)
	}
	if c.Lightweight && c.LoopDetection {
		return nil, ErrLightLoop
	}
	t := &Table{cfg: c, paths: map[uint32]*path{}, sfs: map[string]*sfState{}, boundary: map[netip.Addr]bool{}, members: map[netip.Addr]bool{}}
	for _, a := range c.BoundaryNodes {
		t.boundary[a] = true
		t.members[a] = true
	}
	for _, sf := range c.SFs {
		if _, dup := t.sfs[sf.ID]; dup {
			return nil, fmt.Errorf("service function %q listed twice", sf.ID)
		}
		st := &sfState{id: sf.ID, locs: slices.Clone(sf.Locators)}
		for i := range st.locs {
			t.members[st.locs[i].Addr] = true
			if st.locs[i].Weight == 0 {
				st.locs[i].Weight = 1
			}
		}
		t.sfs[sf.ID] = st
	}
	if c.SFNode {
		if c.LocalSF == "" {
			return nil, fmt.Errorf("%w: an SF node needs its local SF id", ErrLocalSF)
		}
		if t.sfs[c.LocalSF] == nil {
			return nil, fmt.Errorf("%w %q: not among the service functions", ErrLocalSF, c.LocalSF)
		}
	}
	for _, m := range c.Maps {
		if err := t.addPath(m); err != nil {
			return nil, err
		}
	}
	if c.Classifier || c.Boundary {
		for _, r := range c.Rules {
			if t.paths[r.MapIndex] == nil {
				return nil, fmt.Errorf("rule %q: sf-map %d: %w", r.Name, r.MapIndex, ErrUnknownMap)
			}
		}
		cls, err := classify.New(c.Rules)
		if err != nil {
			return nil, err
		}
		t.cls = cls
		t.ruleCtr = make([]*ruleCounter, cls.Len())
		for i := range t.ruleCtr {
			t.ruleCtr[i] = &ruleCounter{name: cls.Rule(i).Name}
		}
	}
	for _, st := range t.sfs {
		st.sel.Store(newSelector(st.locs, nil))
	}
	return t, nil
}

// ErrUnknownMap: a rule names a map the table does not have.
var ErrUnknownMap = errors.New("not an authorized SF map")

func (t *Table) addPath(m Map) error {
	if m.Index == 0 || m.Index > 0xffffff {
		return fmt.Errorf("%w %d: index must be 1..16777215 (24-bit SPI)", ErrMap, m.Index)
	}
	if t.paths[m.Index] != nil {
		return fmt.Errorf("%w %d: listed twice", ErrMap, m.Index)
	}
	if len(m.SFs) == 0 || len(m.SFs) > MaxMapLen {
		return fmt.Errorf("%w %d: %d SFs, want 1..%d", ErrMap, m.Index, len(m.SFs), MaxMapLen)
	}
	if len(m.MD2)%4 != 0 || nsh.MinLen+len(m.MD2) > nsh.MaxLen {
		return fmt.Errorf("%w %d: MD type 2 context of %d octets", ErrMap, m.Index, len(m.MD2))
	}
	var probe nsh.Header
	probe.MDType, probe.Context = nsh.MDType2, m.MD2
	if _, err := probe.Encode(make([]byte, nsh.MaxLen)); err != nil {
		return fmt.Errorf("%w %d: MD type 2 context: %v", ErrMap, m.Index, err)
	}
	p := &path{index: m.Index, hops: make([]hop, len(m.SFs)), kept: make([]bool, len(m.SFs)), onFailure: m.OnFailure,
		egress: m.Egress, md1: m.MD1, md2: slices.Clone(m.MD2), prev: map[netip.Addr]int{},
		ctr: &pathCounters{si: make([]siCounter, len(m.SFs)+1)}}
	if m.Egress.IsValid() {
		t.members[m.Egress] = true
	}
	local := -1
	for i, id := range m.SFs {
		st := t.sfs[id]
		if st == nil {
			return fmt.Errorf("%w %d: service function %q unknown", ErrMap, m.Index, id)
		}
		if slices.Index(m.SFs, id) != i {
			return fmt.Errorf("%w %d: service function %q listed twice", ErrMap, m.Index, id)
		}
		p.hops[i] = hop{sf: st, local: t.cfg.SFNode && id == t.cfg.LocalSF}
		if p.hops[i].local {
			local = i
		}
		for _, l := range st.locs {
			if _, seen := p.prev[l.Addr]; !seen {
				p.prev[l.Addr] = i
			}
		}
	}
	edge := t.cfg.Boundary || t.cfg.Classifier
	if t.cfg.Lightweight {
		if local < 0 && !edge {
			return fmt.Errorf("%w: sf-map %d does not list local SF %q; a lightweight table holds only maps the local SF is on", ErrInconsistent, m.Index, t.cfg.LocalSF)
		}
		if local >= 0 {
			p.kept[local] = true
			if local+1 < len(p.hops) {
				p.kept[local+1] = true
			} else {
				p.keepEnd = true
			}
		}
		if edge {
			p.kept[0] = true
			p.keepEnd = true
		}
	} else {
		for i := range p.kept {
			p.kept[i] = true
		}
		p.keepEnd = true
	}
	if local >= 0 {
		t.localPaths = append(t.localPaths, [2]uint32{m.Index, uint32(local)})
	}
	t.paths[m.Index] = p
	return nil
}

var seed = maphash.MakeSeed()

// newSelector assigns the slots over the usable locators (not Down, best
// priority) by weighted rendezvous hashing. down is keyed by address.
func newSelector(locs []Locator, down map[netip.Addr]bool) *selector {
	s := &selector{}
	best := -1
	for _, l := range locs {
		if !down[l.Addr] && (best < 0 || int(l.Priority) < best) {
			best = int(l.Priority)
		}
	}
	var usable []int
	for i, l := range locs {
		if !down[l.Addr] && int(l.Priority) == best {
			usable = append(usable, i)
			s.live = append(s.live, l.Addr)
		}
	}
	for slot := range s.slots {
		s.slots[slot] = -1
		top := math.Inf(-1)
		for _, i := range usable {
			var h maphash.Hash
			h.SetSeed(seed)
			b := locs[i].Addr.As16()
			h.Write(b[:])
			h.WriteByte(byte(slot))
			u := (float64(h.Sum64()>>11) + 0.5) / (1 << 53)
			score := -float64(locs[i].Weight) / math.Log(u)
			if score > top {
				top, s.slots[slot] = score, int8(i)
			}
		}
	}
	return s
}

// setLiveness rebuilds the locator choice of every SF of the table from
// the down set.
func (t *Table) setLiveness(down map[netip.Addr]bool) {
	for _, st := range t.sfs {
		st.sel.Store(newSelector(st.locs, down))
	}
}

// Action is what a table entry does.
type Action uint8

// Actions.
const (
	ActForward Action = iota
	ActLocal
	ActDecapsulate
)

func (a Action) String() string { return [...]string{"forward", "local", "decapsulate"}[a] }

// Entry is one (SPI, SI) row of the table as installed.
type Entry struct {
	SPI      uint32
	SI       uint8
	Action   Action
	NextSF   string       // empty for decapsulate and for egress forwarding
	NextHops []netip.Addr // usable locators (or the egress node)
	Packets  uint64
	Bytes    uint64
}

// Entries lists the table's rows, by SPI then descending SI.
func (t *Table) Entries() []Entry {
	idx := make([]uint32, 0, len(t.paths))
	for i := range t.paths {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var out []Entry
	for _, i := range idx {
		p := t.paths[i]
		for pos := 0; pos <= len(p.hops); pos++ {
			e := Entry{SPI: p.index, SI: uint8(255 - pos), Packets: p.ctr.si[pos].packets.Load(), Bytes: p.ctr.si[pos].bytes.Load()}
			switch {
			case pos == len(p.hops):
				if !p.keepEnd {
					continue
				}
				e.Action = ActDecapsulate
				if !t.cfg.Boundary && p.egress.IsValid() {
					e.Action, e.NextHops = ActForward, []netip.Addr{p.egress}
				}
			case !p.kept[pos]:
				continue
			case p.hops[pos].local:
				e.Action, e.NextSF = ActLocal, p.hops[pos].sf.id
			default:
				e.Action, e.NextSF = ActForward, p.hops[pos].sf.id
				e.NextHops = slices.Clone(p.hops[pos].sf.sel.Load().live)
			}
			out = append(out, e)
		}
	}
	return out
}

// RuleCounter is one classifier rule's match counters.
type RuleCounter struct {
	Name           string
	Packets, Bytes uint64
}

// RuleCounters returns the classifier rules' counters.
func (t *Table) RuleCounters() []RuleCounter {
	out := make([]RuleCounter, len(t.ruleCtr))
	for i, r := range t.ruleCtr {
		out[i] = RuleCounter{r.name, r.packets.Load(), r.bytes.Load()}
	}
	return out
}

// MapCounters returns packets and bytes handled per map (all positions).
func (t *Table) MapCounters() map[uint32][2]uint64 {
	out := make(map[uint32][2]uint64, len(t.paths))
	for i, p := range t.paths {
		var c [2]uint64
		for j := range p.ctr.si {
			c[0] += p.ctr.si[j].packets.Load()
			c[1] += p.ctr.si[j].bytes.Load()
		}
		out[i] = c
	}
	return out
}

// Config returns the configuration the table was built from.
func (t *Table) Config() *Config { return &t.cfg }
