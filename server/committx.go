package server

import (
	"github.com/wirebeat/wirebeat/gen"
)

// CommitTx is EditTx on running with a comment recorded in the rollback
// history (the CLI's commit comment "..."), returning the history ID of
// the commit (0 when it changed nothing).
func (s *Server) CommitTx(sess *Session, comment string, fn func(tx *Tx) error) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	base, err := s.writableBase(sess, Running)
	if err != nil {
		return 0, err
	}
	tx := newTx(base)
	if err := fn(tx); err != nil {
		return 0, err
	}
	if err := normalize(tx.root, base); err != nil {
		return 0, err
	}
	if err := authorize(sess, base, tx.root); err != nil {
		return 0, err
	}
	return s.commitLocked(sess, base, tx.root, comment)
}

// HistoryConfig returns the configuration committed as history entry id,
// for a front end to load into a candidate (the CLI's rollback N) rather
// than commit at once as Rollback does.
func (s *Server) HistoryConfig(id uint64) (*gen.Device, error) {
	data, err := s.store.readHistory(id)
	if err != nil {
		return nil, err
	}
	return DecodeJSON(data)
}
