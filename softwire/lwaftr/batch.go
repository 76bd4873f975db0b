package lwaftr

// ReceiveBatch processes frames that arrived together on side p. It first
// touches the binding-table memory every frame's lookup needs, so the
// cache misses of the batch overlap, then processes the frames in order.
// The result is the same as calling Receive on each.
func (e *Engine) ReceiveBatch(p Port, frames [][]byte) {
	for len(frames) > 0 {
		n := min(len(frames), len(e.homes))
		e.prefetch(p, frames[:n])
		for _, f := range frames[:n] {
			e.Receive(p, f)
		}
		frames = frames[n:]
	}
}

// prefetch computes where each frame's lookup will read, then reads all
// those places in a tight loop whose loads do not depend on each other.
func (e *Engine) prefetch(p Port, frames [][]byte) {
	n := 0
	for _, f := range frames {
		if ip, port, ok := lookupKey(p, f); ok {
			e.homes[n] = e.bt.Home(ip, port)
			n++
		}
	}
	var acc uint32
	for _, h := range e.homes[:n] {
		acc += e.bt.Touch(h)
	}
	e.touched += acc
}

// lookupKey guesses the binding-table key of an untagged frame: the
// destination address and port of IPv4 from outside, the inner source of
// IPv4-in-IPv6 from inside. A wrong guess only costs a useless load.
func lookupKey(p Port, f []byte) (uint32, uint16, bool) {
	if len(f) < 14 {
		return 0, 0, false
	}
	if p == External {
		if be.Uint16(f[12:]) != etIPv4 || len(f) < 14+24 {
			return 0, 0, false
		}
		ihl := int(f[14]&0xf) * 4
		if len(f) < 14+ihl+4 {
			return 0, 0, false
		}
		return be.Uint32(f[30:]), be.Uint16(f[14+ihl+2:]), true
	}
	if be.Uint16(f[12:]) != etIPv6 || len(f) < 54+24 || f[20] != 4 {
		return 0, 0, false
	}
	ihl := int(f[54]&0xf) * 4
	if len(f) < 54+ihl+2 {
		return 0, 0, false
	}
	return be.Uint32(f[54+12:]), be.Uint16(f[54+ihl:]), true
}
