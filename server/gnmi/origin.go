package gnmi

import (
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wirebeat/wirebeat/schema"
)

// Origins (specification 2.2.2.1). The element has one schema, its own
// YANG modules, addressed:
//   - with no origin, or origin "rfc7951" (module-qualified names as in
//     RFC 7951 are accepted either way);
//   - with the name of one of our modules as origin, as some clients send
//     for a path into that module: accepted when the path's top node is
//     defined by that module, INVALID_ARGUMENT otherwise;
//   - "openconfig" or any other origin names a schema the element does
//     not implement: UNIMPLEMENTED, saying so.
func checkOrigin(origin string, elems []*gpb.PathElem) error {
	if origin == "" || origin == "rfc7951" {
		return nil
	}
	for _, m := range models() {
		if m.Name != origin {
			continue
		}
		if len(elems) == 0 {
			return status.Errorf(codes.InvalidArgument, "origin %q needs a path into module %s, not the root", origin, origin)
		}
		info, err := schema.ResolveNode(elems[:1])
		if err != nil || info.Module != origin {
			return status.Errorf(codes.InvalidArgument, "origin %q: /%s is not a node of module %s", origin, elems[0].GetName(), origin)
		}
		return nil
	}
	if origin == "openconfig" {
		return status.Error(codes.Unimplemented, `origin "openconfig": this element implements no OpenConfig models; use no origin (its own wirebeat-* modules)`)
	}
	return status.Errorf(codes.Unimplemented, "origin %q is not a schema of this element: use no origin, \"rfc7951\" or one of its module names", origin)
}
