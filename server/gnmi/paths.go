package gnmi

import (
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wirebeat/wirebeat/schema"
)

// joinPath returns the elements of prefix + path (specification 2.4.1).
// Paths only in the deprecated string form are refused; origins are
// checked by checkOrigin.
func joinPath(prefix, p *gpb.Path) ([]*gpb.PathElem, error) {
	for _, x := range []*gpb.Path{prefix, p} {
		if x == nil {
			continue
		}
		// Some clients (gnmi_cli) send both forms; elem wins. Only the
		// deprecated form alone is refused.
		//lint:ignore SA1019 refusing the deprecated form needs to look at it
		if old := x.Element; len(old) > 0 && len(x.Elem) == 0 {
			return nil, status.Errorf(codes.InvalidArgument, "path %v uses only the deprecated element field; use elem", old)
		}
		if err := checkOrigin(x.Origin, join(prefix, p).Elem); err != nil {
			return nil, err
		}
	}
	for _, x := range []*gpb.Path{prefix, p} {
		for _, e := range x.GetElem() {
			if e.GetName() == "" {
				return nil, status.Errorf(codes.InvalidArgument, "path %s has an element without a name", schema.PathString(join(prefix, p)))
			}
		}
	}
	n := len(prefix.GetElem())
	if n == 0 {
		return p.GetElem(), nil
	}
	out := make([]*gpb.PathElem, 0, n+len(p.GetElem()))
	out = append(out, prefix.GetElem()...)
	return append(out, p.GetElem()...), nil
}

func join(prefix, p *gpb.Path) *gpb.Path {
	return &gpb.Path{Elem: append(append([]*gpb.PathElem(nil), prefix.GetElem()...), p.GetElem()...)}
}

// responsePrefix is the prefix of the notifications answering a request
// with prefix: the request's when it names one node, so that update paths
// stay relative as the client wrote them; otherwise only the target,
// which must be echoed (2.2.2.1). strip is how many leading elements of a
// full path the prefix covers.
func responsePrefix(prefix *gpb.Path) (out *gpb.Path, strip int) {
	if prefix == nil {
		return nil, 0
	}
	if len(prefix.Elem) > 0 && !schema.HasWildcards(prefix.Elem) {
		return prefix, len(prefix.Elem)
	}
	if prefix.Target == "" {
		return nil, 0
	}
	return &gpb.Path{Target: prefix.Target}, 0
}
