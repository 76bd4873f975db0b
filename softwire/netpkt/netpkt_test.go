package netpkt

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// ipv4Packet builds an IPv4 UDP packet with n payload bytes.
func ipv4Packet(n int) []byte {
	p := make([]byte, 28+n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], 0x1234)
	p[8] = 64
	p[9] = ProtoUDP
	copy(p[12:], []byte{10, 0, 0, 1})
	copy(p[16:], []byte{192, 0, 2, 7})
	binary.BigEndian.PutUint16(p[20:], 1000)
	binary.BigEndian.PutUint16(p[22:], 53)
	binary.BigEndian.PutUint16(p[24:], uint16(8+n))
	for i := range n {
		p[28+i] = byte(i * 7)
	}
	binary.BigEndian.PutUint16(p[26:], L4Checksum4(p[12:16], p[16:20], ProtoUDP, p[20:]))
	SetIPv4Checksum(p)
	return p
}

func TestChecksumKnownValue(t *testing.T) {
	// RFC 1071 §3 example: the sum of these words is ddf2, checksum 220d.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Checksum(b); got != 0x220d {
		t.Fatalf("checksum %04x, want 220d", got)
	}
	p := ipv4Packet(10)
	if Checksum(p[:20]) != 0 {
		t.Fatal("header checksum does not verify")
	}
	if L4Checksum4(p[12:16], p[16:20], ProtoUDP, p[20:]) != 0 {
		t.Fatal("UDP checksum does not verify")
	}
}

// TestAdjustMatchesRecompute: the incremental update of RFC 1624 gives
// the checksum a full recomputation gives, for random field changes.
func TestAdjustMatchesRecompute(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		p := ipv4Packet(r.IntN(40))
		old := binary.BigEndian.Uint32(p[12:])
		oldPort := binary.BigEndian.Uint16(p[20:])
		nu, nuPort := r.Uint32(), uint16(r.Uint32())
		binary.BigEndian.PutUint32(p[12:], nu)
		binary.BigEndian.PutUint16(p[20:], nuPort)
		hc := Adjust32(binary.BigEndian.Uint16(p[10:]), old, nu)
		uc := Adjust32(binary.BigEndian.Uint16(p[26:]), old, nu)
		uc = Adjust16(uc, oldPort, nuPort)
		binary.BigEndian.PutUint16(p[10:], hc)
		binary.BigEndian.PutUint16(p[26:], uc)
		if Checksum(p[:20]) != 0 {
			t.Fatalf("header checksum wrong after adjust")
		}
		if L4Checksum4(p[12:16], p[16:20], ProtoUDP, p[20:]) != 0 {
			t.Fatalf("UDP checksum wrong after adjust")
		}
	}
}

func TestFragment4Reassemble(t *testing.T) {
	p := ipv4Packet(3000)
	r := NewReassembler(4, 10)
	out := make([]byte, MaxDatagram)
	var frags [][]byte
	for off := 0; off < len(p)-20; {
		h := make([]byte, 1500)
		var n int
		n, off = Fragment4(h, p, off, 1280, 77)
		if n > 1280 {
			t.Fatalf("fragment of %d bytes over MTU 1280", n)
		}
		if Checksum(h[:20]) != 0 {
			t.Fatal("fragment header checksum")
		}
		frags = append(frags, h[:n])
	}
	if len(frags) != 3 {
		t.Fatalf("%d fragments, want 3", len(frags))
	}
	// Deliver out of order, with a duplicate.
	order := []int{2, 0, 0, 1}
	var whole []byte
	for i, k := range order {
		w, st, _ := r.Add4(int64(i), frags[k], out)
		if i < len(order)-1 && st != ReasmPending {
			t.Fatalf("fragment %d: status %d before the last", i, st)
		}
		if st == ReasmDone {
			whole = w
		}
	}
	if whole == nil {
		t.Fatal("not reassembled")
	}
	want := bytes.Clone(p)
	binary.BigEndian.PutUint16(want[4:], 0)
	SetIPv4Checksum(want)
	if !bytes.Equal(whole, want) {
		t.Fatal("reassembled packet differs from the original")
	}
	if r.Pending() != 0 {
		t.Fatalf("%d partial packets left", r.Pending())
	}
}

func TestFragment6Reassemble(t *testing.T) {
	inner := ipv4Packet(2000)
	src := bytes.Repeat([]byte{0x20}, 16)
	dst := bytes.Repeat([]byte{0x30}, 16)
	r := NewReassembler(4, 10)
	out := make([]byte, MaxDatagram)
	var whole []byte
	nfr := 0
	for off := 0; off < len(inner); {
		h := make([]byte, 1500)
		var n int
		n, off = Fragment6(h, inner, off, 1280, ProtoIPIP, 0x28, src, dst, 9)
		if n > 1280 {
			t.Fatalf("fragment of %d bytes over MTU 1280", n)
		}
		if TrafficClass(h) != 0x28 {
			t.Fatalf("traffic class %#x", TrafficClass(h))
		}
		nfr++
		w, st, _ := r.Add6(int64(nfr), h[:n], out)
		if st == ReasmDone {
			whole = w
		}
	}
	if whole == nil || nfr != 2 {
		t.Fatalf("not reassembled from %d fragments", nfr)
	}
	if whole[6] != ProtoIPIP || !bytes.Equal(whole[40:], inner) {
		t.Fatal("reassembled IPv6 packet differs")
	}
}

// TestReassemblerBounded: a flood of first fragments never holds more
// than maxPackets partial packets, and too many fragments of one packet
// drop it.
func TestReassemblerBounded(t *testing.T) {
	r := NewReassembler(8, 3)
	out := make([]byte, MaxDatagram)
	p := ipv4Packet(100)
	binary.BigEndian.PutUint16(p[6:], 0x2000) // MF, offset 0
	for i := range 1000 {
		binary.BigEndian.PutUint16(p[4:], uint16(i))
		r.Add4(int64(i), p[:28+16], out)
		if r.Pending() > 8 {
			t.Fatalf("%d partial packets held, bound 8", r.Pending())
		}
	}
	if r.Evicted() < 990 {
		t.Fatalf("evicted %d", r.Evicted())
	}
	binary.BigEndian.PutUint16(p[4:], 0xffff)
	var st ReasmStatus
	var n int
	for i := range 4 {
		_, st, n = r.Add4(2000, p[:28+16], out)
		if i < 3 && st != ReasmPending {
			t.Fatalf("fragment %d: status %d", i, st)
		}
	}
	if st != ReasmDropped || n != 4 {
		t.Fatalf("4th fragment of max 3: status %d, dropped %d", st, n)
	}
}

func TestARPRoundTrip(t *testing.T) {
	mac := []byte{2, 0, 0, 0, 0, 1}
	ip := []byte{192, 0, 2, 1}
	r := make([]byte, ARPLen)
	WriteARP(r, ARPRequest, mac, ip, nil, []byte{192, 0, 2, 2})
	a, ok := ParseARP(r)
	if !ok || a.Op != ARPRequest || !bytes.Equal(a.SHA, mac) || !bytes.Equal(a.TPA, []byte{192, 0, 2, 2}) {
		t.Fatalf("parse: %+v %v", a, ok)
	}
	if _, ok := ParseARP(r[:27]); ok {
		t.Fatal("short ARP accepted")
	}
	nh := NewNextHop([]byte{192, 0, 2, 1}, [6]byte{}, false)
	if !nh.Learn(a.SPA, a.SHA) || !nh.Known || nh.MAC != [6]byte(mac) {
		t.Fatal("next hop not learnt")
	}
	if nh.Learn([]byte{192, 0, 2, 9}, []byte{1, 1, 1, 1, 1, 1}) {
		t.Fatal("learnt from another address")
	}
}

func TestNSNA(t *testing.T) {
	src := make([]byte, 16)
	src[0], src[15] = 0xfe, 1
	target := make([]byte, 16)
	target[0], target[13], target[14], target[15] = 0x20, 0xaa, 0xbb, 0xcc
	mac := []byte{2, 0, 0, 0, 0, 1}
	h := make([]byte, NDLen)
	dmac := WriteNS(h, src, target, mac)
	if dmac != [6]byte{0x33, 0x33, 0xff, 0xaa, 0xbb, 0xcc} {
		t.Fatalf("NS to %x", dmac)
	}
	if ICMPv6Checksum(h[8:24], h[24:40], h[40:]) != 0 {
		t.Fatal("NS checksum")
	}
	tg, ll, ok := NDTarget(h, 1)
	if !ok || !bytes.Equal(tg, target) || !bytes.Equal(ll, mac) {
		t.Fatal("NS target/option")
	}
	WriteNA(h, target, src, target, mac, false)
	if ICMPv6Checksum(h[8:24], h[24:40], h[40:]) != 0 || h[44] != 0x40 {
		t.Fatal("NA checksum or flags")
	}
	if _, _, ok := NDTarget(h[:60], 2); ok {
		t.Fatal("short NA accepted")
	}
}

func TestICMPErrors(t *testing.T) {
	p := ipv4Packet(1000)
	b := make([]byte, ICMPv4ErrorMax)
	e := BuildICMPv4Error(b, 3, 4, []byte{198, 51, 100, 1}, p, 1400)
	if len(e) != 576 || Checksum(e[:20]) != 0 || Checksum(e[20:]) != 0 {
		t.Fatalf("ICMPv4 error: len %d", len(e))
	}
	if !bytes.Equal(e[16:20], p[12:16]) || binary.BigEndian.Uint16(e[26:]) != 1400 {
		t.Fatal("ICMPv4 error addressing or MTU")
	}
	v6 := make([]byte, 40+len(p))
	WriteIPv6Header(v6, 0, len(p), ProtoIPIP, bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16))
	copy(v6[40:], p)
	h := make([]byte, ICMPv6ErrorMax)
	n := BuildICMPv6Error(h, 1, 0, bytes.Repeat([]byte{2}, 16), v6, 0)
	if n != 48+len(v6) || ICMPv6Checksum(h[8:24], h[24:40], h[40:n]) != 0 {
		t.Fatalf("ICMPv6 error: len %d", n)
	}
}

// FuzzReassemble feeds arbitrary IPv4 and IPv6 fragments: nothing
// panics and the reassembler stays within its bound.
func FuzzReassemble(f *testing.F) {
	p := ipv4Packet(100)
	binary.BigEndian.PutUint16(p[6:], 0x2000)
	f.Add(p, false)
	v6 := make([]byte, 48+64)
	WriteIPv6Header(v6, 0, 72, ProtoFragment, make([]byte, 16), make([]byte, 16))
	v6[40] = ProtoIPIP
	f.Add(v6, true)
	r := NewReassembler(16, 8)
	out := make([]byte, MaxDatagram)
	f.Fuzz(func(t *testing.T, b []byte, six bool) {
		if six {
			if q, ok := CheckIPv6(b); ok && q[6] == ProtoFragment {
				r.Add6(0, q, out)
			}
		} else if q, ok := CheckIPv4(b); ok {
			r.Add4(0, q, out)
		}
		if r.Pending() > 16 {
			t.Fatal("bound exceeded")
		}
		ParseARP(b)
		NDTarget(b, 1)
	})
}

func TestNeighbors(t *testing.T) {
	n := NewNeighbors(4)
	ip := []byte{192, 168, 1, 10}
	if _, ok, sol := n.Lookup(ip, 0); ok || !sol {
		t.Fatal("first miss must solicit")
	}
	if _, ok, sol := n.Lookup(ip, 5e8); ok || sol {
		t.Fatal("second miss within a second must not solicit")
	}
	if _, _, sol := n.Lookup(ip, 2e9); !sol {
		t.Fatal("a miss after a second solicits again")
	}
	n.Learn(ip, []byte{2, 0, 0, 0, 0, 9})
	if mac, ok, _ := n.Lookup(ip, 3e9); !ok || mac[5] != 9 {
		t.Fatal("learnt MAC not found")
	}
	for i := range 100 {
		n.Learn([]byte{10, 0, 0, byte(i)}, []byte{2, 0, 0, 0, 0, 1})
		n.Lookup([]byte{10, 1, 0, byte(i)}, 0)
	}
	if n.Len() > 4 {
		t.Fatalf("%d entries, bound 4", n.Len())
	}
}
