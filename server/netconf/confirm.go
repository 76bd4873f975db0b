package netconf

import (
	"errors"
	"strconv"
	"time"

	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// confirmState hooks the front end to the element's one pending confirmed
// commit (server.ConfirmedCommit, RFC 6241 section 8.4 with
// confirmed-commit:1.1), shared with the CLI so that the two cannot undo
// each other's.
type confirmState struct{}

const defaultConfirmTimeout = 600 * time.Second

func (sess *session) commit(op *xnode) reply {
	confirmed := op.childBase("confirmed") != nil
	timeout := defaultConfirmTimeout
	if t := op.childBase("confirm-timeout"); t != nil {
		n, err := strconv.ParseUint(t.Text, 10, 32)
		if err != nil || n == 0 {
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "confirm-timeout", "confirm-timeout %q is not a positive number of seconds", t.Text)}}
		}
		timeout = time.Duration(n) * time.Second
	}
	c := server.Confirm{Confirmed: confirmed, Timeout: timeout}
	if p := op.childBase("persist"); p != nil {
		c.Persist = p.Text
	}
	if p := op.childBase("persist-id"); p != nil {
		c.PersistID, c.HasPersistID = p.Text, true
	}
	if !confirmed && (c.Persist != "" || op.childBase("confirm-timeout") != nil) {
		return reply{errs: []*rpcError{badElement(schema.TagBadElement, "persist", "persist and confirm-timeout go with confirmed")}}
	}
	core := sess.srv.core
	if _, _, err := core.ConfirmedCommit(sess.core, c, func() (uint64, error) { return 0, core.Commit(sess.core) }); err != nil {
		return confirmFail(err)
	}
	return reply{}
}

func (sess *session) cancelCommit(op *xnode) reply {
	var id string
	p := op.childBase("persist-id")
	if p != nil {
		id = p.Text
	}
	if err := sess.srv.core.CancelConfirmed(sess.core, id, p != nil); err != nil {
		return confirmFail(err)
	}
	return reply{}
}

// confirmFail reports a refusal about the persist-id on that element.
func confirmFail(err error) reply {
	if errors.Is(err, server.ErrConfirmPersistID) {
		return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "persist-id", "%s", schema.AsError(err).Message)}}
	}
	return fail(err)
}

// sessionEnded rolls back an unconfirmed commit whose session ended
// without persist.
func (confirmState) sessionEnded(s *Server, id uint32) { s.core.ConfirmSessionEnded(id) }

// stop does nothing: the core rolls back a commit still unconfirmed when
// the element stops (server.Close), whichever front end made it.
func (confirmState) stop(*Server) {}
