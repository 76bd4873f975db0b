package netpkt

// Neighbors is a bounded neighbour cache (ARP for IPv4, NDP for IPv6)
// for a link with many hosts on it, such as a B4's LAN: addresses are
// learnt from ARP messages and neighbour advertisements, and a lookup
// miss says whether to solicit now (at most once per second per address).
// It is not safe for concurrent use.
type Neighbors struct {
	max     int
	entries map[[16]byte]neighbor
}

type neighbor struct {
	mac       [6]byte
	known     bool
	solicited int64 // nanoseconds, last solicitation
}

// NewNeighbors makes a cache of at most max addresses.
func NewNeighbors(max int) *Neighbors {
	return &Neighbors{max: max, entries: make(map[[16]byte]neighbor, min(max, 1024))}
}

func key(ip []byte) (k [16]byte) {
	if len(ip) == 4 {
		k[10], k[11] = 0xff, 0xff // IPv4-mapped, so both families share the map
		copy(k[12:], ip)
		return k
	}
	copy(k[:], ip)
	return k
}

func (n *Neighbors) room() {
	if len(n.entries) < n.max {
		return
	}
	for k := range n.entries { // random eviction: a flood cannot pin entries
		delete(n.entries, k)
		return
	}
}

// Learn records mac for ip.
func (n *Neighbors) Learn(ip, mac []byte) {
	if len(mac) != 6 || (len(ip) != 4 && len(ip) != 16) {
		return
	}
	k := key(ip)
	if _, ok := n.entries[k]; !ok {
		n.room()
	}
	n.entries[k] = neighbor{mac: [6]byte(mac), known: true}
}

// Lookup returns the MAC of ip; when unknown, solicit says whether the
// caller should send a solicitation now (the miss is remembered, so
// repeated misses within a second do not flood the link).
func (n *Neighbors) Lookup(ip []byte, now int64) (mac [6]byte, ok, solicit bool) {
	k := key(ip)
	e, found := n.entries[k]
	if found && e.known {
		return e.mac, true, false
	}
	if found && now-e.solicited < 1e9 {
		return mac, false, false
	}
	if !found {
		n.room()
	}
	n.entries[k] = neighbor{solicited: now}
	return mac, false, true
}

// Len is the number of addresses held.
func (n *Neighbors) Len() int { return len(n.entries) }
