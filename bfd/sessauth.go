package bfd

// Authentication of a session's packets (RFC 5880 section 6.7) and the
// stability extension's Null-Authentication section on transmit.

// fillAuth sets the authentication section of an outgoing packet and
// advances the transmit sequence numbers.
func (s *Session) fillAuth(p *Packet) {
	a := &s.cfg.Auth
	switch {
	case a.Type == AuthSimplePassword:
		p.Auth.Type = AuthSimplePassword
		p.Auth.KeyID = a.TxKeyID
		_ = p.Auth.SetPassword(s.cfg.key(a.TxKeyID)) // length checked by Validate
	case a.Type != AuthNone:
		// Keyed and meticulous keyed: we advance the sequence number on
		// every packet, which section 6.7.3 allows for keyed and
		// requires for meticulous.
		s.xmitAuthSeq++
		p.Auth.Type = a.Type
		p.Auth.KeyID = a.TxKeyID
		p.Auth.Seq = s.xmitAuthSeq
	case s.cfg.Stability.Enabled:
		// Seed 002: one more per packet; 0 asks the receiver to reset,
		// and after a wrap the sender continues at 1.
		p.Auth.Type = s.cfg.Stability.authType()
		p.Auth.Seq = s.stabTxSeq
		if s.stabTxSeq++; s.stabTxSeq == 0 {
			s.stabTxSeq = 1
		}
		if s.cfg.Stability.Delay {
			p.Auth.KeyID = NullAuthLossAndDelay
			p.Auth.Timestamp = uint32(s.eng.now() / 1000) // microseconds
		}
	}
}

// sign writes the digest into an encoded packet; false if it could not.
func (s *Session) sign(b []byte) bool {
	a := &s.cfg.Auth
	switch {
	case a.Type.isMD5():
		return SignMD5(b, s.cfg.key(a.TxKeyID)) == nil
	case a.Type.isSHA1():
		return SignSHA1(b, s.cfg.key(a.TxKeyID)) == nil
	}
	return true
}

// authenticate applies section 6.8.6's A-bit rules and section 6.7's
// checks. It changes nothing unless the packet is accepted.
func (s *Session) authenticate(now int64, p *Packet, raw []byte) bool {
	want := s.cfg.Auth.Type
	if want == AuthNone {
		s.remoteAuthed = false
		if !p.AuthPresent {
			return true
		}
		// The stability section is not authentication: accept it when
		// the extension is on, as RFC 5880 would otherwise discard.
		return s.cfg.Stability.Enabled && p.Auth.Type == s.cfg.Stability.authType()
	}
	if !p.AuthPresent || p.Auth.Type != want {
		return false
	}
	// Several keys may share an ID during a key change: any may match.
	matched := false
	for i := range s.cfg.Auth.Keys {
		k := &s.cfg.Auth.Keys[i]
		if k.ID != p.Auth.KeyID {
			continue
		}
		switch {
		case want == AuthSimplePassword:
			matched = p.Auth.PasswordMatches(k.Secret)
		case want.isMD5():
			matched = VerifyMD5(raw, k.Secret)
		case want.isSHA1():
			matched = VerifySHA1(raw, k.Secret)
		}
		if matched {
			break
		}
	}
	if !matched {
		return false
	}
	if want == AuthSimplePassword {
		s.remoteAuthed = true
		return true
	}
	// Sequence number: forget the last one after two Detection Times of
	// silence (section 6.7.3), then accept within 3 x Detect Mult ahead;
	// meticulous types require strictly ahead.
	if s.authSeqKnown && now-s.lastRx > 2*int64(s.detectionTime())*1000 {
		s.authSeqKnown = false
	}
	if s.authSeqKnown {
		d := p.Auth.Seq - s.rcvAuthSeq
		window := 3 * uint32(p.DetectMult)
		lo := uint32(0)
		if want == AuthMeticulousKeyedMD5 || want == AuthMeticulousKeyedSHA1 {
			lo = 1
		}
		if d < lo || d > window {
			return false
		}
	}
	s.rcvAuthSeq = p.Auth.Seq
	s.authSeqKnown = true
	s.remoteAuthed = true
	return true
}
