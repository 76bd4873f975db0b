package lwb4

import "github.com/wirebeat/wirebeat/softwire/bindingtable"

// Protocols the NAPT translates, as table indexes.
const (
	pTCP = iota
	pUDP
	pICMP
	nProto
)

// mapping is one translation: inside address and port (or ICMP
// identifier) to an external port of the port set.
type mapping struct {
	ip   uint32
	port uint16
	ext  uint16
	last int64 // unix nanoseconds of the last packet
	used bool
}

type fkey struct {
	proto uint8
	port  uint16
	ip    uint32
}

// napt is NAPT44 restricted to one port set (RFC 7596 §5.1: the lwB4
// translates into the ports of its PSID only). Memory is fixed when the
// binding is set: one mapping per usable port and protocol, a reverse
// index by external port, and a map from inside endpoint to mapping sized
// so it never grows. Expired mappings are reused when a new flow needs a
// port, so no timer runs.
type napt struct {
	ports    []uint16 // usable external ports, in order
	maps     [nProto][]mapping
	rev      [nProto][]int32 // external port → mapping index, -1 none
	fwd      map[fkey]int32
	cursor   [nProto]int
	timeouts [nProto]int64
}

// maxScan bounds the search for a free port for one new flow.
const maxScan = 4096

// usablePorts lists the ports of psid under ps: those whose PSID bits
// equal psid and, with an offset, whose offset bits are not all zero (RFC
// 7597 §5.1 keeps 0..2^(16-a)-1 out of every set).
func usablePorts(ps bindingtable.PortSet, psid uint16) []uint16 {
	var out []uint16
	for p := 0; p < 65536; p++ {
		port := uint16(p)
		if ps.PSID(port) != psid {
			continue
		}
		if ps.Offset > 0 && port>>(16-ps.Offset) == 0 {
			continue
		}
		if ps.Offset == 0 && ps.Length == 0 && port < 1024 {
			// A whole address: keep the well-known ports for the B4
			// itself, as a home router does.
			continue
		}
		out = append(out, port)
	}
	return out
}

func newNAPT(ps bindingtable.PortSet, psid uint16, timeouts [nProto]int64) *napt {
	n := &napt{ports: usablePorts(ps, psid), timeouts: timeouts}
	n.fwd = make(map[fkey]int32, len(n.ports)*nProto)
	for p := range nProto {
		n.maps[p] = make([]mapping, len(n.ports))
		n.rev[p] = make([]int32, 65536)
		for i := range n.rev[p] {
			n.rev[p][i] = -1
		}
	}
	return n
}

// inRange reports whether port belongs to the set.
func (n *napt) owns(proto int, ext uint16) (*mapping, bool) {
	i := n.rev[proto][ext]
	if i < 0 {
		return nil, false
	}
	return &n.maps[proto][i], true
}

// out returns the external port of (ip, port), making a mapping when
// there is none; ok is false when every port is in use.
func (n *napt) out(proto int, ip uint32, port uint16, now int64) (uint16, bool) {
	k := fkey{uint8(proto), port, ip}
	if i, ok := n.fwd[k]; ok {
		m := &n.maps[proto][i]
		m.last = now
		return m.ext, true
	}
	ms := n.maps[proto]
	if len(ms) == 0 {
		return 0, false
	}
	for range min(len(ms), maxScan) {
		i := n.cursor[proto]
		n.cursor[proto] = (i + 1) % len(ms)
		m := &ms[i]
		if m.used && now-m.last < n.timeouts[proto] {
			continue
		}
		if m.used {
			delete(n.fwd, fkey{uint8(proto), m.port, m.ip})
		}
		ext := n.ports[i]
		*m = mapping{ip: ip, port: port, ext: ext, last: now, used: true}
		n.rev[proto][ext] = int32(i)
		n.fwd[k] = int32(i)
		return ext, true
	}
	return 0, false
}

// in finds the inside endpoint of an external port, refreshing it.
func (n *napt) in(proto int, ext uint16, now int64) (uint32, uint16, bool) {
	m, ok := n.owns(proto, ext)
	if !ok || !m.used || now-m.last >= n.timeouts[proto] {
		return 0, 0, false
	}
	m.last = now
	return m.ip, m.port, true
}

// active counts mappings not expired.
func (n *napt) active(now int64) int {
	c := 0
	for p := range nProto {
		for i := range n.maps[p] {
			if m := &n.maps[p][i]; m.used && now-m.last < n.timeouts[p] {
				c++
			}
		}
	}
	return c
}
