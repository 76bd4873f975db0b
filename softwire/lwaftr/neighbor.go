package lwaftr

var broadcastMAC = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// arp answers requests for our external address (RFC 826) and learns the
// next hop's MAC from any ARP packet it sends.
func (e *Engine) arp(p []byte) {
	if len(p) < 28 || be.Uint16(p[0:]) != 1 || be.Uint16(p[2:]) != etIPv4 || p[4] != 6 || p[5] != 4 {
		e.C.DropMalformed[External]++
		return
	}
	op := be.Uint16(p[6:])
	sha, spa, tpa := p[8:14], p[14:18], p[24:28]
	s := &e.sides[External]
	if !s.cfg.NextHopMACSet && len(s.cfg.NextHopIP) == 4 && string(spa) == string(s.cfg.NextHopIP) {
		copy(s.nhMAC[:], sha)
		s.nhKnown = true
	}
	if op != 1 || string(tpa) != string(e.cfg.External.IP) {
		return
	}
	b, off := e.alloc(External, sha, etARP)
	r := b[off : off+28]
	copy(r[0:6], p[0:6])
	be.PutUint16(r[6:], 2)
	copy(r[8:14], e.cfg.External.MAC[:])
	copy(r[14:18], e.cfg.External.IP)
	copy(r[18:24], sha)
	copy(r[24:28], spa)
	e.C.ARPReplies++
	e.commit(External, off+28, etARP, off)
}

// sendARPRequest asks for the external next hop's MAC.
func (e *Engine) sendARPRequest() {
	b, off := e.alloc(External, broadcastMAC, etARP)
	r := b[off : off+28]
	be.PutUint16(r[0:], 1)
	be.PutUint16(r[2:], etIPv4)
	r[4], r[5] = 6, 4
	be.PutUint16(r[6:], 1)
	copy(r[8:14], e.cfg.External.MAC[:])
	copy(r[14:18], e.cfg.External.IP)
	clear(r[18:24])
	copy(r[24:28], e.cfg.External.NextHopIP)
	e.commit(External, off+28, etARP, off)
}

// ndOption finds a link-layer address option of the given type in the
// options of a neighbour discovery message.
func ndOption(opts []byte, typ byte) []byte {
	for len(opts) >= 8 {
		l := int(opts[1]) * 8
		if l == 0 || l > len(opts) {
			return nil
		}
		if opts[0] == typ && l >= 8 {
			return opts[2:8]
		}
		opts = opts[l:]
	}
	return nil
}

// neighborSolicitation answers solicitations for our internal address
// (RFC 4861 §7.2.4) with a solicited advertisement.
func (e *Engine) neighborSolicitation(p []byte, eth []byte) {
	m := p[40:]
	if len(m) < 24 || p[7] != 255 {
		e.C.DropMalformed[Internal]++
		return
	}
	if string(m[8:24]) != string(e.cfg.Internal.IP) {
		e.C.DropNotForUs6++
		return
	}
	dstMAC := ndOption(m[24:], 1)
	if dstMAC == nil {
		dstMAC = eth[6:12]
	}
	b, off := e.alloc(Internal, dstMAC, etIPv6)
	h := b[off : off+40+32]
	writeIPv6Header(h, 0, 32, 58, e.cfg.Internal.IP, p[8:24])
	r := h[40:]
	r[0], r[1], r[2], r[3] = 136, 0, 0, 0
	r[4], r[5], r[6], r[7] = 0xc0, 0, 0, 0 // router, solicited
	copy(r[8:24], e.cfg.Internal.IP)
	r[24], r[25] = 2, 1
	copy(r[26:32], e.cfg.Internal.MAC[:])
	be.PutUint16(r[2:], icmpv6Checksum(h[8:24], h[24:40], r))
	e.C.NAReplies++
	e.commit(Internal, off+72, etIPv6, off)
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
	mac := ndOption(m[24:], 2)
	if mac == nil {
		mac = eth[6:12]
	}
	copy(s.nhMAC[:], mac)
	s.nhKnown = true
}

// sendNS solicits the internal next hop's MAC at its solicited-node
// multicast address.
func (e *Engine) sendNS() {
	t := e.cfg.Internal.NextHopIP
	dmac := []byte{0x33, 0x33, 0xff, t[13], t[14], t[15]}
	var dst [16]byte
	dst[0], dst[1], dst[11], dst[12] = 0xff, 0x02, 1, 0xff
	copy(dst[13:], t[13:16])
	b, off := e.alloc(Internal, dmac, etIPv6)
	h := b[off : off+72]
	writeIPv6Header(h, 0, 32, 58, e.cfg.Internal.IP, dst[:])
	r := h[40:]
	r[0], r[1], r[2], r[3] = 135, 0, 0, 0
	clear(r[4:8])
	copy(r[8:24], t)
	r[24], r[25] = 1, 1
	copy(r[26:32], e.cfg.Internal.MAC[:])
	be.PutUint16(r[2:], icmpv6Checksum(h[8:24], h[24:40], r))
	e.commit(Internal, off+72, etIPv6, off)
}
