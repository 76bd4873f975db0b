package dslite

import (
	"net/netip"
	"time"
)

// B4Info is what the AFTR knows of one B4 it serves.
type B4Info struct {
	Addr       netip.Addr
	External   netip.Addr // invalid before its first session
	Sessions   int
	PortsInUse int
	Blocks     int
	LastSeen   time.Time
}

// Sessions is the number of NAT sessions held.
func (a *AFTR) Sessions() int { return a.nSessions }

// ActiveB4s is the number of B4s with state (sessions or blocks).
func (a *AFTR) ActiveB4s() int { return len(a.b4ByAddr) }

func (a *AFTR) info(b *b4State) B4Info {
	in := B4Info{Addr: netip.AddrFrom16(b.addr), Sessions: int(b.sessions), PortsInUse: a.portsHeld(b),
		Blocks: len(b.blocks), LastSeen: a.epoch.Add(time.Duration(b.last) * time.Second)}
	if b.ext >= 0 {
		var e [4]byte
		be.PutUint32(e[:], a.ext[b.ext].ip)
		in.External = netip.AddrFrom4(e)
	}
	return in
}

// B4 returns what the AFTR knows of the B4 at addr.
func (a *AFTR) B4(addr netip.Addr) (B4Info, bool) {
	i, ok := a.b4ByAddr[addr.As16()]
	if !ok {
		return B4Info{Addr: addr}, false
	}
	return a.info(&a.b4s[i]), true
}

// EachB4 calls fn for every B4 with state until fn returns false.
func (a *AFTR) EachB4(fn func(B4Info) bool) {
	for _, i := range a.b4ByAddr {
		if !fn(a.info(&a.b4s[i])) {
			return
		}
	}
}

// Mapping returns the external address and port of an internal endpoint
// behind B4 b4 (proto 6, 17 or 1 with the query identifier as port).
func (a *AFTR) Mapping(b4 netip.Addr, inner netip.AddrPort, proto uint8) (netip.AddrPort, bool) {
	bi, ok := a.b4ByAddr[b4.As16()]
	if !ok || !inner.Addr().Is4() {
		return netip.AddrPort{}, false
	}
	si, ok := a.out[outKey{b4: bi, addr: be.Uint32(inner.Addr().AsSlice()), port: inner.Port(), proto: proto}]
	if !ok {
		return netip.AddrPort{}, false
	}
	s := &a.sess[si]
	var e [4]byte
	be.PutUint32(e[:], s.extAddr)
	return netip.AddrPortFrom(netip.AddrFrom4(e), s.extPort), true
}

// PoolUse is the use of one pool prefix.
type PoolUse struct {
	Prefix     netip.Prefix
	B4s, Ports int
}

// Pools reports the use of every pool.
func (a *AFTR) Pools() []PoolUse {
	out := make([]PoolUse, len(a.pools))
	for i, p := range a.pools {
		out[i].Prefix = a.cfg.Pools[i].Masked()
		for k := range int(p.size) {
			x := &a.ext[p.first+k]
			out[i].B4s += x.b4s
			out[i].Ports += x.nUsed * int(a.cfg.PortBlockSize)
		}
	}
	return out
}
