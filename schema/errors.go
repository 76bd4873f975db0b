package schema

import (
	"errors"
	"fmt"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// Tag classifies an Error. The values are the RFC 6241 Appendix A error
// tags, which every front end can map: NETCONF uses them as they are, gNMI
// maps them to status codes, the CLI prints them.
type Tag string

// The error tags the element core produces.
const (
	TagInvalidValue     Tag = "invalid-value"
	TagTooBig           Tag = "too-big"
	TagMissingElement   Tag = "missing-element"
	TagBadElement       Tag = "bad-element"
	TagUnknownElement   Tag = "unknown-element"
	TagUnknownNamespace Tag = "unknown-namespace"
	TagAccessDenied     Tag = "access-denied"
	TagLockDenied       Tag = "lock-denied"
	TagInUse            Tag = "in-use"
	TagResourceDenied   Tag = "resource-denied"
	TagDataExists       Tag = "data-exists"
	TagDataMissing      Tag = "data-missing"
	TagOperationNotSupp Tag = "operation-not-supported"
	TagOperationFailed  Tag = "operation-failed"
	TagMalformedMessage Tag = "malformed-message"
	TagRollbackFailed   Tag = "rollback-failed"
	TagPartialOperation Tag = "partial-operation"
	TagMissingAttribute Tag = "missing-attribute"
	TagBadAttribute     Tag = "bad-attribute"
	TagUnknownAttribute Tag = "unknown-attribute"
)

// Error is a failure a client caused or must know about: what kind (Tag),
// where in the tree (Path, nil when it concerns no node), and a message
// that a person can act on.
type Error struct {
	Tag     Tag
	AppTag  string    // RFC 7950 error-app-tag, e.g. "must-violation"
	Path    *gpb.Path // the offending node
	Message string
	// Holder is the session holding a lock, for TagLockDenied.
	Holder uint32
	Err    error // the underlying cause, if any
}

func (e *Error) Error() string {
	if e.Path != nil {
		return fmt.Sprintf("%s: %s: %s", e.Tag, PathString(e.Path), e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Tag, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an Error with a formatted message.
func Errorf(tag Tag, path *gpb.Path, format string, args ...any) *Error {
	return &Error{Tag: tag, Path: path, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error, classifying anything else as
// operation-failed so that front ends always have a tag to report.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Tag: TagOperationFailed, Message: err.Error(), Err: err}
}
