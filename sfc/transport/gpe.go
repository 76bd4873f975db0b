// Package transport carries the SFC data plane's packets: NSH over
// VXLAN-GPE (UDP port 4790, next protocol NSH) or directly over UDP
// between nodes that are not adjacent (batched sockets), NSH directly over
// Ethernet (EtherType 0x894F) between adjacent nodes and external
// interfaces of a boundary (pktio ports), and the loop that reads pktio
// TUN ports, which connect the data plane to the host's routing (packets
// entering the domain, packets leaving it with the NSH removed) and to
// NSH-unaware SFs behind the proxy.
package transport

import (
	"errors"
)

// GPEPort is the VXLAN-GPE UDP port (IANA).
const GPEPort = 4790

// GPELen is the VXLAN-GPE header length.
const GPELen = 8

// VXLAN-GPE flags (draft-ietf-nvo3-vxlan-gpe section 3.1): I (VNI valid)
// and P (next protocol present); version 0.
const (
	gpeFlagI    = 0x08
	gpeFlagP    = 0x04
	gpeProtoNSH = 0x04
)

// GPE decode errors.
var (
	ErrGPEShort   = errors.New("vxlan-gpe: shorter than its header")
	ErrGPEVersion = errors.New("vxlan-gpe: unsupported version")
	ErrGPEProto   = errors.New("vxlan-gpe: next protocol is not NSH")
)

// PutGPE writes a VXLAN-GPE header announcing NSH, with VNI vni, into
// b[:GPELen].
func PutGPE(b []byte, vni uint32) {
	b[0], b[1], b[2], b[3] = gpeFlagI|gpeFlagP, 0, 0, gpeProtoNSH
	b[4], b[5], b[6], b[7] = byte(vni>>16), byte(vni>>8), byte(vni), 0
}

// ParseGPE checks a VXLAN-GPE header and returns the offset of the NSH.
func ParseGPE(b []byte) (int, error) {
	if len(b) < GPELen {
		return 0, ErrGPEShort
	}
	if b[0]&0x30 != 0 {
		return 0, ErrGPEVersion
	}
	if b[0]&gpeFlagP == 0 || b[3] != gpeProtoNSH {
		return 0, ErrGPEProto
	}
	return GPELen, nil
}
