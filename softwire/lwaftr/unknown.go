package lwaftr

// UnknownVerdict is what an UnknownSource decides for a packet.
type UnknownVerdict uint8

// Verdicts.
const (
	// UnknownDefault: the engine does what it does without a handler:
	// counts the packet as having no binding and answers with the
	// ICMPv6 error of RFC 7596 §5.2 (Destination Unreachable, code 5),
	// within the side's ICMP rate limit.
	UnknownDefault UnknownVerdict = iota
	// UnknownTaken: the handler keeps a copy (it may give it back with
	// Redeliver once a binding exists) and counts it itself.
	UnknownTaken
	// UnknownDrop: counted as having no binding, no ICMPv6 error.
	UnknownDrop
)

// UnknownSource is told about IPv4-in-IPv6 packets whose IPv6 source the
// binding table does not confirm for their inner IPv4 source address and
// port: what a backup lwAFTR sees after an anycast failover. Both methods
// run on the engine's goroutine.
type UnknownSource interface {
	// Unknown is called for such a packet p (the whole IPv6 packet,
	// valid only during the call) with its inner IPv4 source and port.
	Unknown(p []byte, ipv4 uint32, port uint16) UnknownVerdict
	// UnknownDestination is called for an IPv4 packet from the Internet
	// (p, valid only during the call) whose destination address and port
	// have no binding: after a failover the first packet of a B4 may come
	// from outside (a download whose receiver has nothing to send).
	UnknownDestination(p []byte, ipv4 uint32, port uint16) UnknownVerdict
	// Poll is called at the start of every Flush: the place to change
	// the binding table and to Redeliver held packets.
	Poll(e *Engine)
}

// ServiceState is implemented by an UnknownSource that knows whether this
// lwAFTR is in service on the anycast address it shares (failover.Manager:
// out of service while shutting down or not forwarding). Out of service,
// the engine stops answering neighbour solicitations for its internal
// address, so the on-link router's entry for the anycast address goes
// stale and its traffic moves to a lwAFTR still answering (seed 001,
// anycast discipline); known B4s keep being forwarded meanwhile.
type ServiceState interface {
	InService() bool
}

// inService reports whether the engine answers for its internal address.
func (e *Engine) inService() bool {
	s, ok := e.unknown.(ServiceState)
	return !ok || s.InService()
}

// LocalUDP is implemented by an UnknownSource that serves UDP on the
// internal address (the anycast address a DHCPv4-over-DHCPv6 relay
// listens on: softwire/dhcp4o6). LocalUDP is called on the engine's
// goroutine with an unfragmented (or reassembled) IPv6 packet, valid only
// during the call, whose next header is UDP and whose destination is the
// internal address; it reports whether it took the packet (a packet it
// does not take is counted as of an unknown protocol).
type LocalUDP interface {
	LocalUDP(p []byte) bool
}

// SetUnknownSource installs h (nil removes it); call it between batches.
func (e *Engine) SetUnknownSource(h UnknownSource) {
	e.unknown = h
	e.local, _ = h.(LocalUDP)
}

// SendLocal6 sends an IPv6 packet the lwAFTR itself originates (a relay's
// answer, from the internal address) to the internal side's next hop; call
// it from Poll. It reports false when the packet is larger than the
// internal MTU or not IPv6 (nothing is sent).
func (e *Engine) SendLocal6(p []byte) bool {
	if len(p) < 40 || p[0]>>4 != 6 || len(p) > e.cfg.Internal.MTU {
		return false
	}
	b, off := e.alloc(Internal, nil, etIPv6)
	copy(b[off:], p)
	e.commit(Internal, off+len(p), etIPv6, off)
	return true
}

// Redeliver decapsulates again an IPv6 packet an UnknownSource held, once
// its binding exists; call it from Poll. A packet that still has no
// binding goes to Unknown again, so a handler must not redeliver what it
// has not got a binding for.
func (e *Engine) Redeliver(p []byte) { e.decap(p) }

// Redeliver4 forwards again an IPv4 packet from the Internet that an
// UnknownSource held, once its binding exists; call it from Poll.
func (e *Engine) Redeliver4(p []byte) { e.forward4(p, nil, false) }
