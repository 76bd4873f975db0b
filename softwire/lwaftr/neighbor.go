package lwaftr

import "github.com/wirebeat/wirebeat/softwire/netpkt"

// arp answers requests for our external address (RFC 826) and learns the
// next hop's MAC from any ARP packet it sends.
func (e *Engine) arp(p []byte) {
	a, ok := netpkt.ParseARP(p)
	if !ok {
		e.C.DropMalformed[External]++
		return
	}
	s := &e.sides[External]
	if !s.cfg.NextHopMACSet && len(s.cfg.NextHopIP) == 4 && string(a.SPA) == string(s.cfg.NextHopIP) {
		copy(s.nhMAC[:], a.SHA)
		s.nhKnown = true
	}
	if a.Op != netpkt.ARPRequest || string(a.TPA) != string(e.cfg.External.IP) {
		return
	}
	b, off := e.alloc(External, a.SHA, etARP)
	r := b[off : off+netpkt.ARPLen]
	netpkt.WriteARP(r, netpkt.ARPReply, e.cfg.External.MAC[:], e.cfg.External.IP, a.SHA, a.SPA)
	e.C.ARPReplies++
	e.commit(External, off+netpkt.ARPLen, etARP, off)
}

// sendARPRequest asks for the external next hop's MAC.
func (e *Engine) sendARPRequest() {
	b, off := e.alloc(External, netpkt.BroadcastMAC, etARP)
	netpkt.WriteARP(b[off:off+netpkt.ARPLen], netpkt.ARPRequest, e.cfg.External.MAC[:], e.cfg.External.IP, nil, e.cfg.External.NextHopIP)
	e.commit(External, off+netpkt.ARPLen, etARP, off)
}

// neighborSolicitation answers solicitations for our internal address
// (RFC 4861 §7.2.4) with a solicited advertisement.
func (e *Engine) neighborSolicitation(p []byte, eth []byte) {
	target, dstMAC, ok := netpkt.NDTarget(p, 1)
	if !ok {
		e.C.DropMalformed[Internal]++
		return
	}
	if string(target) != string(e.cfg.Internal.IP) || !e.inService() {
		e.C.DropNotForUs6++
		return
	}
	if dstMAC == nil {
		dstMAC = eth[6:12]
	}
	b, off := e.alloc(Internal, dstMAC, etIPv6)
	netpkt.WriteNA(b[off:off+netpkt.NDLen], e.cfg.Internal.IP, p[8:24], e.cfg.Internal.IP, e.cfg.Internal.MAC[:], true)
	e.C.NAReplies++
	e.commit(Internal, off+netpkt.NDLen, etIPv6, off)
}

// neighborAdvertisement learns the next hop's MAC.
func (e *Engine) neighborAdvertisement(p []byte, eth []byte) {
	m := p[40:]
	if len(m) < 24 {
		e.C.DropMalformed[Internal]++
		return
	}
	s := &e.sides[Internal]
	if s.cfg.NextHopMACSet || len(s.cfg.NextHopIP) != 16 || string(m[8:24]) != string(s.cfg.NextHopIP) {
		return
	}
	mac := netpkt.NDOption(m[24:], 2)
	if mac == nil {
		mac = eth[6:12]
	}
	copy(s.nhMAC[:], mac)
	s.nhKnown = true
}

// sendNS solicits the internal next hop's MAC at its solicited-node
// multicast address.
func (e *Engine) sendNS() {
	_, dmac := netpkt.SolicitedNode(e.cfg.Internal.NextHopIP)
	b, off := e.alloc(Internal, dmac[:], etIPv6)
	netpkt.WriteNS(b[off:off+netpkt.NDLen], e.cfg.Internal.IP, e.cfg.Internal.NextHopIP, e.cfg.Internal.MAC[:])
	e.commit(Internal, off+netpkt.NDLen, etIPv6, off)
}
