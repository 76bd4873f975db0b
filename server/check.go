package server

// CheckTx runs an edit through a transaction and the whole validation of
// the commit pipeline, then drops it: NETCONF's test-option test-only.
func (s *Server) CheckTx(sess *Session, ds Datastore, fn func(tx *Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	base, err := s.writableBase(sess, ds)
	if err != nil {
		return err
	}
	tx := newTx(base)
	if err := fn(tx); err != nil {
		return err
	}
	work := tx.root
	if err := normalize(work, base); err != nil {
		return err
	}
	if err := authorize(sess, base, work); err != nil {
		return err
	}
	return s.validateLocked(work)
}
