package pktio

import (
	"encoding/binary"
	"errors"
)

// What a peer with offloads on leaves undone, and how it is finished here.
//
// A Linux host hands a packet socket the skb as its own stack built it:
// with "tx-checksumming" the TCP/UDP checksum holds only the pseudo-header
// sum (CHECKSUM_PARTIAL), and with TSO/GSO one frame carries up to 64 KB
// of payload to be cut into gso_size pieces by the device that never
// comes. With PACKET_VNET_HDR the kernel puts a virtio_net_hdr (virtio
// 1.x §5.1.6) in front of every frame saying exactly that; this file
// decodes it and finishes the work, so engines only ever see frames as
// they would be on a wire.

// VnetHdrLen is the size of struct virtio_net_hdr (without num_buffers).
const VnetHdrLen = 10

// virtio_net_hdr flags and gso types.
const (
	vnetNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	vnetDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID

	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3 // UFO: IP fragmentation, not produced by current kernels
	GSOTCPv6 = 4
	GSOUDPL4 = 5    // UDP segmentation (USO)
	gsoECN   = 0x80 // TCP with ECN: CWR only on the first segment
)

// VnetHdr is a decoded virtio_net_hdr. The kernel writes it in host byte
// order, which for every architecture Go's linux ports use that matter
// here is little endian (virtio 1.x is little endian by definition).
type VnetHdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16
	GSOSize    uint16
	CsumStart  uint16
	CsumOffset uint16
}

// Offload errors: the frame is dropped and counted under its cause.
var (
	ErrVnetShort       = errors.New("pktio: frame shorter than its virtio_net_hdr")
	ErrCsumOutOfFrame  = errors.New("pktio: checksum start/offset outside the frame")
	ErrGSOUnsupported  = errors.New("pktio: GSO type not supported")
	ErrGSOBadHeaders   = errors.New("pktio: GSO frame headers not understood")
	ErrGSOTooManySegs  = errors.New("pktio: GSO frame would make too many segments")
	ErrGSONoRoom       = errors.New("pktio: no room for the segments")
	ErrGSOSizeInvalid  = errors.New("pktio: GSO size zero")
	errNeedCsumForGSO  = errors.New("pktio: GSO frame without NEEDS_CSUM")
	errNotGSOTransport = errors.New("pktio: GSO frame's transport does not match its type")
)

// ParseVnetHdr decodes the 10 header bytes at the front of b.
func ParseVnetHdr(b []byte) (VnetHdr, error) {
	if len(b) < VnetHdrLen {
		return VnetHdr{}, ErrVnetShort
	}
	le := binary.LittleEndian
	return VnetHdr{Flags: b[0], GSOType: b[1], HdrLen: le.Uint16(b[2:]), GSOSize: le.Uint16(b[4:]),
		CsumStart: le.Uint16(b[6:]), CsumOffset: le.Uint16(b[8:])}, nil
}

// Put encodes h into b[:VnetHdrLen].
func (h VnetHdr) Put(b []byte) {
	le := binary.LittleEndian
	b[0], b[1] = h.Flags, h.GSOType
	le.PutUint16(b[2:], h.HdrLen)
	le.PutUint16(b[4:], h.GSOSize)
	le.PutUint16(b[6:], h.CsumStart)
	le.PutUint16(b[8:], h.CsumOffset)
}

// NeedsCsum reports a partial checksum left for the device.
func (h VnetHdr) NeedsCsum() bool { return h.Flags&vnetNeedsCsum != 0 }

// IsGSO reports a super-frame to be segmented.
func (h VnetHdr) IsGSO() bool { return h.GSOType&^gsoECN != GSONone }

// sum16 adds b as big-endian 16-bit words to acc (RFC 1071) unfolded.
// Eight bytes a step: the carries of 32-bit halves summed into a uint64
// cannot overflow for any frame a packet socket delivers.
func sum16(acc uint64, b []byte) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		acc += v>>32 + v&0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold reduces acc to 16 bits of one's complement sum (not inverted).
func fold(acc uint64) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// FinishChecksum completes a CHECKSUM_PARTIAL frame as the device would
// have (Linux skb_checksum_help): the 16-bit field at start+offset holds
// the pseudo-header sum; the one's complement sum from start to the end
// of the frame, inverted, replaces it. A result of zero is sent as 0xffff
// (the same value in one's complement, and for UDP zero means "none").
func FinishChecksum(frame []byte, start, offset int) error {
	at := start + offset
	if start < 0 || offset < 0 || at+2 > len(frame) {
		return ErrCsumOutOfFrame
	}
	c := ^fold(sum16(0, frame[start:]))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(frame[at:], c)
	return nil
}

// Action is what Prepare did with a frame.
type Action int

// The outcomes of Prepare.
const (
	AsIs             Action = iota // nothing was left undone
	ChecksumFinished               // a partial checksum was completed in place
	Segmenting                     // a super-frame: take its segments from the Segmenter
)

// Prepare does what the virtio_net_hdr h says the device should have
// done to frame f: a partial checksum is finished in place; a GSO
// super-frame is handed to seg, whose Next yields its segments (f must
// stay untouched until they are all taken). An error means the frame
// cannot be made right and must be dropped.
func Prepare(f []byte, h VnetHdr, seg *Segmenter) (Action, error) {
	if h.IsGSO() {
		if err := seg.Start(f, h); err != nil {
			return AsIs, err
		}
		return Segmenting, nil
	}
	if h.NeedsCsum() {
		if err := FinishChecksum(f, int(h.CsumStart), int(h.CsumOffset)); err != nil {
			return AsIs, err
		}
		return ChecksumFinished, nil
	}
	return AsIs, nil
}

// ipHdr is one IP header on the way from the link layer to the
// transport header of a GSO frame.
type ipHdr struct {
	off int
	v6  bool
}

// maxIPHdrs bounds the IP headers walked (tunnels in tunnels).
const maxIPHdrs = 4

// gsoLayout is what segmenting needs to know of a frame's headers.
type gsoLayout struct {
	ips    [maxIPHdrs]ipHdr
	nips   int
	l4     int // transport header offset
	hdrEnd int // end of the transport header: payload starts here
	tcp    bool
}

// walkToL4 walks Ethernet (with VLAN tags), then IPv4/IPv6 headers
// (IPv6 extension headers, IP-in-IP, IPv6-in-IP) down to a TCP or UDP
// header. It fills lay.ips and lay.l4 and returns the transport protocol.
func walkToL4(f []byte, lay *gsoLayout) (byte, error) {
	if len(f) < 14 {
		return 0, ErrGSOBadHeaders
	}
	off := 12
	et := binary.BigEndian.Uint16(f[off:])
	for et == 0x8100 || et == 0x88a8 {
		off += 4
		if off+2 > len(f) {
			return 0, ErrGSOBadHeaders
		}
		et = binary.BigEndian.Uint16(f[off:])
	}
	off += 2
	var proto byte
	switch et {
	case 0x0800:
		proto = 4
	case 0x86dd:
		proto = 41
	default:
		return 0, ErrGSOBadHeaders
	}
	for {
		switch proto {
		case 4:
			if lay.nips == maxIPHdrs || off+20 > len(f) || f[off]>>4 != 4 {
				return 0, ErrGSOBadHeaders
			}
			ihl := int(f[off]&0xf) * 4
			if ihl < 20 || off+ihl > len(f) || binary.BigEndian.Uint16(f[off+6:])&0x3fff != 0 {
				return 0, ErrGSOBadHeaders // fragments are never GSO
			}
			lay.ips[lay.nips] = ipHdr{off: off}
			lay.nips++
			proto = f[off+9]
			off += ihl
		case 41:
			if lay.nips == maxIPHdrs || off+40 > len(f) || f[off]>>4 != 6 {
				return 0, ErrGSOBadHeaders
			}
			lay.ips[lay.nips] = ipHdr{off: off, v6: true}
			lay.nips++
			proto = f[off+6]
			off += 40
			// Extension headers a sender puts before the transport:
			// hop-by-hop, routing, destination options (the tunnel
			// encapsulation limit lives there).
			for n := 0; proto == 0 || proto == 43 || proto == 60; n++ {
				if n == 8 || off+8 > len(f) {
					return 0, ErrGSOBadHeaders
				}
				proto = f[off]
				off += (int(f[off+1]) + 1) * 8
			}
		case 6, 17:
			lay.l4 = off
			lay.tcp = proto == 6
			return proto, nil
		default:
			return 0, ErrGSOBadHeaders
		}
		if off > len(f) {
			return 0, ErrGSOBadHeaders
		}
	}
}

// parseGSOLayout finds the headers of a super-frame; the transport
// header must sit where the vnet header says the checksum starts.
func parseGSOLayout(f []byte, l4 int, gsoType uint8) (gsoLayout, error) {
	var lay gsoLayout
	if _, err := walkToL4(f, &lay); err != nil {
		return lay, err
	}
	off := lay.l4
	if off != l4 {
		return lay, ErrGSOBadHeaders
	}
	switch gsoType &^ gsoECN {
	case GSOTCPv4, GSOTCPv6:
		if !lay.tcp || off+20 > len(f) {
			return lay, errNotGSOTransport
		}
		doff := int(f[off+12]>>4) * 4
		if doff < 20 || off+doff > len(f) {
			return lay, ErrGSOBadHeaders
		}
		lay.hdrEnd = off + doff
	case GSOUDPL4:
		if lay.tcp || off+8 > len(f) {
			return lay, errNotGSOTransport
		}
		lay.hdrEnd = off + 8
	default:
		return lay, ErrGSOUnsupported
	}
	return lay, nil
}

// RepairPartial finishes the transport checksum of frame f when it
// carries exactly what a sender with checksum offload leaves there (the
// pseudo-header sum) instead of a valid checksum. It is for drivers
// without offload metadata (AF_XDP on veth, whose peer may be a local
// stack with tx-checksumming on); a real NIC never delivers such frames.
// A frame whose checksum verifies, or is wrong in any other way, is left
// alone: a forwarder passes corruption on, it does not hide it. The
// chance that a corrupt frame's field equals its pseudo-header sum by
// accident is 2^-16.
func RepairPartial(f []byte) bool {
	var lay gsoLayout
	if _, err := walkToL4(f, &lay); err != nil {
		return false
	}
	at := 16
	if !lay.tcp {
		at = 6
	}
	l4 := f[lay.l4:]
	if len(l4) < at+2 || (!lay.tcp && len(l4) < 8) {
		return false
	}
	inner := lay.ips[lay.nips-1]
	// The transport length is what the innermost IP header says.
	ip := f[inner.off:]
	var n int
	if inner.v6 {
		n = int(binary.BigEndian.Uint16(ip[4:])) - (lay.l4 - inner.off - 40)
	} else {
		n = int(binary.BigEndian.Uint16(ip[2:])) - (lay.l4 - inner.off)
	}
	if n < at+2 || n > len(l4) {
		return false
	}
	l4 = l4[:n]
	field := binary.BigEndian.Uint16(l4[at:])
	if !lay.tcp && field == 0 && !inner.v6 {
		return false // UDP over IPv4 without a checksum
	}
	pseudo := pseudoSum(ip, inner.v6, l4, lay.tcp)
	if field != fold(pseudo) || fold(sum16(pseudo, l4)) == 0xffff {
		return false
	}
	l4[at], l4[at+1] = 0, 0
	c := ^fold(sum16(pseudo, l4))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[at:], c)
	return true
}

// MaxSegments bounds the segments one super-frame may become (64 KB at
// an MSS of 88 bytes, far below any real path MTU).
const MaxSegments = 768

// Segmenter cuts GSO super-frames into wire-sized frames, one call per
// segment so a caller with a full batch can stop and resume later.
type Segmenter struct {
	f    []byte
	h    VnetHdr
	lay  gsoLayout
	pay  int // next payload byte to emit
	seg  int // index of the next segment
	last bool
}

// Start prepares the segmentation of super-frame f described by h. It
// checks the headers; nothing is written to f.
func (s *Segmenter) Start(f []byte, h VnetHdr) error {
	*s = Segmenter{}
	if h.GSOSize == 0 {
		return ErrGSOSizeInvalid
	}
	switch h.GSOType &^ gsoECN {
	case GSOTCPv4, GSOTCPv6, GSOUDPL4:
	default:
		return ErrGSOUnsupported
	}
	if !h.NeedsCsum() {
		return errNeedCsumForGSO
	}
	lay, err := parseGSOLayout(f, int(h.CsumStart), h.GSOType)
	if err != nil {
		return err
	}
	payload := len(f) - lay.hdrEnd
	if (payload+int(h.GSOSize)-1)/int(h.GSOSize) > MaxSegments {
		return ErrGSOTooManySegs
	}
	*s = Segmenter{f: f, h: h, lay: lay, pay: lay.hdrEnd}
	return nil
}

// Active reports whether segments remain.
func (s *Segmenter) Active() bool { return s.f != nil && !s.last }

// NextLen is the length of the next segment (0 when none is left).
func (s *Segmenter) NextLen() int {
	if !s.Active() {
		return 0
	}
	return s.lay.hdrEnd + min(int(s.h.GSOSize), len(s.f)-s.pay)
}

// Next writes the next segment into dst and returns its length; dst must
// hold NextLen bytes. A super-frame with no payload yields itself once.
func (s *Segmenter) Next(dst []byte) (int, error) {
	n := s.NextLen()
	if n == 0 {
		return 0, nil
	}
	if len(dst) < n {
		return 0, ErrGSONoRoom
	}
	lay := &s.lay
	chunk := n - lay.hdrEnd
	copy(dst, s.f[:lay.hdrEnd])
	copy(dst[lay.hdrEnd:n], s.f[s.pay:s.pay+chunk])
	first := s.seg == 0
	s.pay += chunk
	s.last = s.pay >= len(s.f)
	be := binary.BigEndian
	for _, ip := range lay.ips[:lay.nips] {
		h := dst[ip.off:]
		if ip.v6 {
			be.PutUint16(h[4:], uint16(n-ip.off-40))
			continue
		}
		// Every IPv4 header on the way gets its own length and the
		// next identification, as Linux's GSO does (RFC 6864 allows
		// either for atomic datagrams; counting up is what peers see
		// from a real device).
		ihl := int(h[0]&0xf) * 4
		be.PutUint16(h[2:], uint16(n-ip.off))
		be.PutUint16(h[4:], be.Uint16(h[4:])+uint16(s.seg))
		h[10], h[11] = 0, 0
		be.PutUint16(h[10:], ^fold(sum16(0, h[:ihl])))
	}
	l4 := dst[lay.l4:n]
	inner := lay.ips[lay.nips-1]
	var csumAt int
	if lay.tcp {
		seq := be.Uint32(l4[4:]) + uint32(s.seg)*uint32(s.h.GSOSize)
		be.PutUint32(l4[4:], seq)
		flags := l4[13]
		if !s.last {
			flags &^= 0x01 | 0x08 // FIN, PSH only on the last segment
		}
		if !first {
			flags &^= 0x80 // CWR only on the first
		}
		l4[13] = flags
		csumAt = 16
	} else {
		be.PutUint16(l4[4:], uint16(len(l4)))
		csumAt = 6
	}
	l4[csumAt], l4[csumAt+1] = 0, 0
	acc := pseudoSum(dst[inner.off:], inner.v6, l4, lay.tcp)
	c := ^fold(sum16(acc, l4))
	if c == 0 && !lay.tcp {
		c = 0xffff
	}
	be.PutUint16(l4[csumAt:], c)
	s.seg++
	if s.last {
		s.f = nil
	}
	return n, nil
}

// pseudoSum is the pseudo-header sum of a transport segment l4 under the
// IP header at ip (RFC 793 §3.1, RFC 768, RFC 8200 §8.1).
func pseudoSum(ip []byte, v6 bool, l4 []byte, tcp bool) uint64 {
	proto := uint64(17)
	if tcp {
		proto = 6
	}
	if v6 {
		return sum16(0, ip[8:40]) + uint64(len(l4)) + proto
	}
	return sum16(0, ip[12:20]) + uint64(len(l4)) + proto
}
