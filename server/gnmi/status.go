package gnmi

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wirebeat/wirebeat/schema"
)

// codeOf maps the element's error tags (RFC 6241 Appendix A) to the
// canonical gRPC codes the gNMI specification names (2.5, 3.4.7).
func codeOf(tag schema.Tag) codes.Code {
	switch tag {
	case schema.TagInvalidValue, schema.TagBadElement, schema.TagUnknownElement,
		schema.TagUnknownNamespace, schema.TagMissingElement, schema.TagMalformedMessage,
		schema.TagBadAttribute, schema.TagMissingAttribute, schema.TagUnknownAttribute,
		// A reference to an instance that does not exist (RFC 7950
		// require-instance) is an invalid value for gNMI.
		schema.TagDataMissing:
		return codes.InvalidArgument
	case schema.TagAccessDenied:
		return codes.PermissionDenied
	case schema.TagLockDenied, schema.TagInUse:
		return codes.FailedPrecondition
	case schema.TagResourceDenied, schema.TagTooBig:
		return codes.ResourceExhausted
	case schema.TagDataExists:
		return codes.AlreadyExists
	case schema.TagOperationNotSupp:
		return codes.Unimplemented
	case schema.TagOperationFailed, schema.TagRollbackFailed, schema.TagPartialOperation:
		return codes.Aborted
	}
	return codes.Internal
}

// statusOf turns an error of the element core into a gRPC status error;
// statuses made here pass through.
func statusOf(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var e *schema.Error
	if errors.As(err, &e) {
		return status.Error(codeOf(e.Tag), e.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// codeAndMessage splits any error into its gRPC code and message.
func codeAndMessage(err error) (codes.Code, string) {
	st, _ := status.FromError(statusOf(err))
	return st.Code(), st.Message()
}
