package pktio

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The expected frames are built by gopacket (its own length and checksum
// code), so these tests check ours against an independent encoder.

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 2}
	v4A  = net.IP{192, 0, 2, 1}
	v4B  = net.IP{198, 51, 100, 1}
	v6A  = net.ParseIP("2001:db8::1")
	v6B  = net.ParseIP("8:9:a:b:c:d:e:f")
)

// build serializes an Ethernet frame of the given layers over payload,
// with lengths and checksums computed by gopacket.
func build(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// tcpStack describes one TCP packet for build: outer IPv6 (lw4o6) or
// not, inner IPv4 or IPv6.
type tcpStack struct {
	outer6 bool
	inner6 bool
	id     uint16
	seq    uint32
	flags  func(*layers.TCP)
}

func (s tcpStack) frame(t testing.TB, payload []byte) ([]byte, int) {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	var ls []gopacket.SerializableLayer
	l4 := 14
	if s.outer6 {
		eth.EthernetType = layers.EthernetTypeIPv6
		nh := layers.IPProtocolIPv4
		if s.inner6 {
			nh = layers.IPProtocolIPv6
		}
		ls = append(ls, eth, &layers.IPv6{Version: 6, NextHeader: nh, HopLimit: 64, SrcIP: v6A, DstIP: v6B})
		l4 += 40
	} else {
		if s.inner6 {
			eth.EthernetType = layers.EthernetTypeIPv6
		}
		ls = append(ls, eth)
	}
	tcp := &layers.TCP{SrcPort: 1025, DstPort: 80, Seq: s.seq, Ack: 77, Window: 500, ACK: true,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 2}}}}
	if s.flags != nil {
		s.flags(tcp)
	}
	if s.inner6 {
		ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolTCP, HopLimit: 64, SrcIP: v6A, DstIP: v6B}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		ls = append(ls, ip)
		l4 += 40
	} else {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: s.id, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP, SrcIP: v4A, DstIP: v4B}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		ls = append(ls, ip)
		l4 += 20
	}
	ls = append(ls, tcp, gopacket.Payload(payload))
	return build(t, ls...), l4
}

// makePartial replaces the transport checksum with the pseudo-header
// sum, as a sender with checksum offload leaves it.
func makePartial(f []byte, l4, csumOff int, ipOff int, v6 bool, tcp bool) {
	binary.BigEndian.PutUint16(f[l4+csumOff:], 0)
	binary.BigEndian.PutUint16(f[l4+csumOff:], fold(pseudoSum(f[ipOff:], v6, f[l4:], tcp)))
}

func TestFinishChecksum(t *testing.T) {
	for _, c := range []struct {
		name string
		st   tcpStack
		ipOf int
	}{
		{"tcp4", tcpStack{id: 9, seq: 1}, 14},
		{"tcp6", tcpStack{inner6: true, seq: 1}, 14},
		{"tcp4-in-ipv6", tcpStack{outer6: true, id: 9, seq: 1}, 54},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 2, 3, 999, 1400} {
				want, l4 := c.st.frame(t, pattern(n))
				got := append([]byte(nil), want...)
				makePartial(got, l4, 16, c.ipOf, c.st.inner6, true)
				if bytes.Equal(got, want) && n > 0 {
					t.Fatal("partial frame equals the finished one: test proves nothing")
				}
				act, err := Prepare(got, VnetHdr{Flags: vnetNeedsCsum, CsumStart: uint16(l4), CsumOffset: 16}, &Segmenter{})
				if err != nil || act != ChecksumFinished {
					t.Fatalf("Prepare: %v %v", act, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("payload %d: checksum % x, want % x", n, got[l4+16:l4+18], want[l4+16:l4+18])
				}
			}
		})
	}
	// UDP: a sum of zero is sent as 0xffff.
	udp := &layers.UDP{SrcPort: 1, DstPort: 2}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: v4A, DstIP: v4B}
	_ = udp.SetNetworkLayerForChecksum(ip)
	want := build(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(pattern(33)))
	got := append([]byte(nil), want...)
	makePartial(got, 34, 6, 14, false, false)
	if err := FinishChecksum(got, 34, 6); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("udp: %v % x want % x", err, got[40:42], want[40:42])
	}
	for _, bad := range [][2]int{{-1, 0}, {0, -1}, {len(got) - 1, 0}, {34, len(got)}} {
		if err := FinishChecksum(got, bad[0], bad[1]); err != ErrCsumOutOfFrame {
			t.Errorf("start %d offset %d: %v, want ErrCsumOutOfFrame", bad[0], bad[1], err)
		}
	}
}

// segmentAll runs Prepare and takes every segment.
func segmentAll(t testing.TB, f []byte, h VnetHdr) [][]byte {
	t.Helper()
	var s Segmenter
	act, err := Prepare(f, h, &s)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if act != Segmenting {
		t.Fatalf("Prepare: %v, want Segmenting", act)
	}
	var out [][]byte
	for s.Active() {
		dst := make([]byte, s.NextLen())
		n, err := s.Next(dst)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dst[:n])
	}
	return out
}

func TestSegmentTCP(t *testing.T) {
	const mss = 1448
	for _, c := range []struct {
		name   string
		st     tcpStack
		gso    uint8
		ipOffs []int
	}{
		{"tcp4", tcpStack{id: 100, seq: 1000}, GSOTCPv4, nil},
		{"tcp6", tcpStack{inner6: true, seq: 1000}, GSOTCPv6, nil},
		{"tcp4-in-ipv6", tcpStack{outer6: true, id: 100, seq: 0xffffff00}, GSOTCPv4, nil},
		{"tcp4-ecn", tcpStack{id: 7, seq: 5}, GSOTCPv4 | gsoECN, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			payload := pattern(5000)
			_, l4 := c.st.frame(t, payload)
			// The super-frame's own flags: PSH and FIN (and CWR for ECN).
			withFlags := c.st
			withFlags.flags = func(tc *layers.TCP) { tc.PSH, tc.FIN, tc.CWR = true, true, true }
			super, _ := withFlags.frame(t, payload)
			h := VnetHdr{Flags: vnetNeedsCsum, GSOType: c.gso, GSOSize: mss, CsumStart: uint16(l4), CsumOffset: 16}
			segs := segmentAll(t, super, h)
			if len(segs) != 4 {
				t.Fatalf("%d segments, want 4", len(segs))
			}
			for i, got := range segs {
				st := c.st
				st.id = c.st.id + uint16(i)
				st.seq = c.st.seq + uint32(i*mss)
				last := i == len(segs)-1
				st.flags = func(tc *layers.TCP) { tc.PSH, tc.FIN, tc.CWR = last, last, i == 0 }
				want, _ := st.frame(t, payload[i*mss:min((i+1)*mss, len(payload))])
				if !bytes.Equal(got, want) {
					t.Fatalf("segment %d:\n got % x\nwant % x", i, got, want)
				}
			}
		})
	}
}

func TestSegmentUDPL4(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}
	mk := func(p []byte) []byte {
		ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolUDP, HopLimit: 64, SrcIP: v6A, DstIP: v6B}
		udp := &layers.UDP{SrcPort: 4000, DstPort: 5000}
		_ = udp.SetNetworkLayerForChecksum(ip)
		return build(t, eth, ip, udp, gopacket.Payload(p))
	}
	payload := pattern(3000)
	segs := segmentAll(t, mk(payload), VnetHdr{Flags: vnetNeedsCsum, GSOType: GSOUDPL4, GSOSize: 1200, CsumStart: 54, CsumOffset: 6})
	if len(segs) != 3 {
		t.Fatalf("%d segments", len(segs))
	}
	for i, got := range segs {
		if want := mk(payload[i*1200 : min((i+1)*1200, len(payload))]); !bytes.Equal(got, want) {
			t.Fatalf("segment %d:\n got % x\nwant % x", i, got, want)
		}
	}
}

func TestSegmentRefuses(t *testing.T) {
	super, l4 := tcpStack{id: 1, seq: 1}.frame(t, pattern(3000))
	for _, c := range []struct {
		name string
		h    VnetHdr
		want error
	}{
		{"no NEEDS_CSUM", VnetHdr{GSOType: GSOTCPv4, GSOSize: 1000, CsumStart: uint16(l4), CsumOffset: 16}, errNeedCsumForGSO},
		{"zero size", VnetHdr{Flags: vnetNeedsCsum, GSOType: GSOTCPv4, CsumStart: uint16(l4), CsumOffset: 16}, ErrGSOSizeInvalid},
		{"UFO", VnetHdr{Flags: vnetNeedsCsum, GSOType: GSOUDP, GSOSize: 1000, CsumStart: uint16(l4), CsumOffset: 16}, ErrGSOUnsupported},
		{"csum start elsewhere", VnetHdr{Flags: vnetNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1000, CsumStart: uint16(l4 + 4), CsumOffset: 16}, ErrGSOBadHeaders},
		{"udp type on tcp", VnetHdr{Flags: vnetNeedsCsum, GSOType: GSOUDPL4, GSOSize: 1000, CsumStart: uint16(l4), CsumOffset: 6}, errNotGSOTransport},
		{"too many segments", VnetHdr{Flags: vnetNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1, CsumStart: uint16(l4), CsumOffset: 16}, ErrGSOTooManySegs},
	} {
		var s Segmenter
		if _, err := Prepare(super, c.h, &s); err != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if s.Active() {
			t.Errorf("%s: segmenter left active", c.name)
		}
	}
	var s Segmenter
	if err := s.Start(super, VnetHdr{Flags: vnetNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1000, CsumStart: uint16(l4), CsumOffset: 16}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(make([]byte, 10)); err != ErrGSONoRoom {
		t.Fatalf("short buffer: %v", err)
	}
}

func TestVnetHdrRoundTrip(t *testing.T) {
	h := VnetHdr{Flags: 1, GSOType: 4, HdrLen: 66, GSOSize: 1448, CsumStart: 54, CsumOffset: 16}
	var b [VnetHdrLen]byte
	h.Put(b[:])
	got, err := ParseVnetHdr(b[:])
	if err != nil || got != h {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := ParseVnetHdr(b[:9]); err != ErrVnetShort {
		t.Fatal(err)
	}
}

func TestRepairPartial(t *testing.T) {
	for _, st := range []tcpStack{{id: 3, seq: 4}, {inner6: true, seq: 4}, {outer6: true, id: 3, seq: 4}} {
		want, l4 := st.frame(t, pattern(777))
		ipOff := 14
		if st.outer6 {
			ipOff = 54
		}
		got := append([]byte(nil), want...)
		makePartial(got, l4, 16, ipOff, st.inner6, true)
		if !RepairPartial(got) || !bytes.Equal(got, want) {
			t.Fatalf("%+v: partial checksum not repaired", st)
		}
		if RepairPartial(got) {
			t.Fatalf("%+v: valid checksum touched", st)
		}
		bad := append([]byte(nil), want...)
		bad[l4+16] ^= 0x5a
		if RepairPartial(bad) || bad[l4+16] != want[l4+16]^0x5a {
			t.Fatalf("%+v: corrupt checksum 'repaired'", st)
		}
	}
	for _, junk := range [][]byte{nil, make([]byte, 13), pattern(100)} {
		if RepairPartial(junk) {
			t.Fatal("junk repaired")
		}
	}
}
