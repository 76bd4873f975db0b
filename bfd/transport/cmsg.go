package transport

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// parseCmsg extracts the received TTL/hop limit and the destination address
// from a recvmmsg control buffer. It is written out by hand because the
// generic parsers allocate a slice per packet.
func parseCmsg(oob []byte) (ttl uint8, dst netip.Addr) {
	const hdr = unix.SizeofCmsghdr
	for len(oob) >= hdr {
		// struct cmsghdr on 64-bit Linux: size_t len, int level, int type.
		l := int(min(binary.NativeEndian.Uint64(oob[0:8]), uint64(len(oob))+1))
		level := int32(binary.NativeEndian.Uint32(oob[8:12]))
		typ := int32(binary.NativeEndian.Uint32(oob[12:16]))
		if l < hdr || l > len(oob) {
			return
		}
		data := oob[hdr:l]
		switch {
		case level == unix.IPPROTO_IP && typ == unix.IP_TTL && len(data) >= 4:
			ttl = uint8(binary.NativeEndian.Uint32(data))
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_HOPLIMIT && len(data) >= 4:
			ttl = uint8(binary.NativeEndian.Uint32(data))
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo: ifindex, spec_dst, addr (the header
			// destination address).
			dst = netip.AddrFrom4([4]byte(data[8:12]))
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			dst = netip.AddrFrom16([16]byte(data[0:16]))
		}
		next := (l + 7) &^ 7 // CMSG_ALIGN
		if next >= len(oob) {
			return
		}
		oob = oob[next:]
	}
	return
}
