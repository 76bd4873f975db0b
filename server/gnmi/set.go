package gnmi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// setOp is one operation of a SetRequest.
type setOp struct {
	op    gpb.UpdateResult_Operation
	path  *gpb.Path       // as the client wrote it, relative to the prefix
	elems []*gpb.PathElem // prefix + path
	val   *gpb.TypedValue
}

func (o *setOp) String() string {
	return fmt.Sprintf("%s %s", strings.ToLower(o.op.String()), schema.PathString(&gpb.Path{Elem: o.elems}))
}

// opError is the failure of one operation with the code the
// specification gives it (3.4.7).
type opError struct {
	code codes.Code
	err  error
}

func (e *opError) Error() string { return e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// Set applies the deletes, then the replaces, then the updates of req as
// one transaction through the commit pipeline (specification 3.4): all of
// them or, on any failure, none. A failure answers ABORTED; its details
// hold a SetResponse whose UpdateResult for the failing operation carries
// the precise code and the others ABORTED.
func (g *Server) Set(ctx context.Context, req *gpb.SetRequest) (*gpb.SetResponse, error) {
	sess := sessionOf(ctx)
	// NACM decides a Set as it decides NETCONF's <edit-config>; each
	// change is then decided on its path by the commit.
	if err := g.srv.Exec(sess, "ietf-netconf", "edit-config"); err != nil {
		return nil, statusOf(err)
	}
	ops := make([]*setOp, 0, len(req.Delete)+len(req.Replace)+len(req.Update))
	for _, p := range req.Delete {
		ops = append(ops, &setOp{op: gpb.UpdateResult_DELETE, path: p})
	}
	for _, u := range req.Replace {
		ops = append(ops, &setOp{op: gpb.UpdateResult_REPLACE, path: u.Path, val: u.Val})
	}
	for _, u := range req.Update {
		ops = append(ops, &setOp{op: gpb.UpdateResult_UPDATE, path: u.Path, val: u.Val})
	}
	for i, o := range ops {
		var err error
		if o.elems, err = joinPath(req.Prefix, o.path); err != nil {
			return nil, setFailure(req, ops, i, err)
		}
		// Keys in the form the datastores keep: a delete of the text
		// written removes the entry stored canonically.
		if o.elems, err = schema.CanonicalPath(o.elems); err != nil {
			return nil, setFailure(req, ops, i, &opError{codes.InvalidArgument, err})
		}
	}
	if len(ops) == 0 { // not an error (3.4)
		return &gpb.SetResponse{Prefix: req.Prefix, Timestamp: time.Now().UnixNano()}, nil
	}
	failed := -1
	err := g.srv.EditTx(sess, server.Running, func(tx *schema.Tx) error {
		for i, o := range ops {
			if err := applyOp(tx, o); err != nil {
				failed = i
				return err
			}
		}
		return nil
	})
	if err != nil {
		if failed < 0 {
			failed = culprit(ops, err)
		}
		g.log.Info("set refused", "user", sess.User, "op", ops[failed].String(), "err", err)
		return nil, setFailure(req, ops, failed, err)
	}
	now := time.Now().UnixNano()
	resp := &gpb.SetResponse{Prefix: req.Prefix, Timestamp: now, Response: make([]*gpb.UpdateResult, len(ops))}
	for i, o := range ops {
		resp.Response[i] = &gpb.UpdateResult{Path: o.path, Op: o.op}
	}
	return resp, nil
}

// culprit finds the operation an error of the commit pipeline (validation,
// role, an engine refusing) concerns: the last one whose path contains the
// offending node or lies below it; the first when none does, as for a
// locked datastore.
func culprit(ops []*setOp, err error) int {
	e := schema.AsError(err)
	if e.Path == nil {
		return 0
	}
	found := 0
	for i, o := range ops {
		if schema.PathsOverlap(o.elems, e.Path.Elem) {
			found = i
		}
	}
	return found
}

func stripModule(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// setFailure builds the ABORTED status of a failed Set.
func setFailure(req *gpb.SetRequest, ops []*setOp, failed int, err error) error {
	code, msg := opCode(ops[failed], err)
	resp := &gpb.SetResponse{Prefix: req.Prefix, Timestamp: time.Now().UnixNano(), Response: make([]*gpb.UpdateResult, len(ops))}
	for i, o := range ops {
		r := &gpb.UpdateResult{Path: o.path, Op: o.op}
		c, m := codes.Aborted, "not applied: operation "+ops[failed].String()+" failed"
		if i == failed {
			c, m = code, msg
		}
		//lint:ignore SA1019 the specification (3.4.7) still carries each operation's status here
		r.Message = &gpb.Error{Code: uint32(c), Message: m}
		resp.Response[i] = r
	}
	st := status.New(codes.Aborted, fmt.Sprintf("set aborted, nothing changed: %s failed with %s: %s", ops[failed], code, msg))
	if d, derr := st.WithDetails(resp); derr == nil {
		st = d
	}
	return st.Err()
}

// opCode is the code of an operation's failure: what the operation said,
// else the mapping of the element's error tag, where an update or replace
// of a path the schema does not have is NOT_FOUND (3.4.7).
func opCode(o *setOp, err error) (codes.Code, string) {
	var oe *opError
	if errors.As(err, &oe) {
		return oe.code, oe.err.Error()
	}
	e := schema.AsError(err)
	if e.Tag == schema.TagUnknownElement && o.op != gpb.UpdateResult_DELETE {
		return codes.NotFound, e.Error()
	}
	return codeAndMessage(err)
}
