package server

import (
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// CommitTx is EditTx on running with a comment recorded in the rollback
// history (the CLI's commit comment "..."), returning the history ID of
// the commit (0 when it changed nothing).
func (s *Server) CommitTx(sess *Session, comment string, fn func(tx *schema.Tx) error) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	base, err := s.writableBase(sess, Running)
	if err != nil {
		return 0, err
	}
	tx := schema.NewTx(base)
	if err := fn(tx); err != nil {
		return 0, err
	}
	if err := normalize(tx.Root(), base, tx.Touched()); err != nil {
		return 0, err
	}
	if err := s.deniedWrite(sess, s.authorize(sess, base, tx.Root(), tx.Touched())); err != nil {
		return 0, err
	}
	return s.commitLocked(sess, base, tx.Root(), tx.Touched(), comment)
}

// HistoryConfig returns the configuration committed as history entry id,
// for a front end to load into a candidate (the CLI's rollback N) rather
// than commit at once as Rollback does.
func (s *Server) HistoryConfig(id uint64) (*gen.Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.configAt(id)
}
