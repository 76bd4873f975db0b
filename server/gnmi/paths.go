package gnmi

import (
	"fmt"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
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
			return nil, status.Errorf(codes.InvalidArgument, "path %s uses only the deprecated element field; use elem", server.Truncate(fmt.Sprint(old), 4*maxEcho))
		}
		if err := checkOrigin(x.Origin, join(prefix, p).Elem); err != nil {
			return nil, err
		}
	}
	for _, x := range []*gpb.Path{prefix, p} {
		for _, e := range x.GetElem() {
			if e.GetName() == "" {
				return nil, status.Errorf(codes.InvalidArgument, "path %s has an element without a name", server.Truncate(schema.PathString(join(prefix, p)), 4*maxEcho))
			}
		}
	}
	n := len(prefix.GetElem())
	if n == 0 {
		return collapseDescent(p.GetElem()), nil
	}
	out := make([]*gpb.PathElem, 0, n+len(p.GetElem()))
	out = append(out, prefix.GetElem()...)
	return collapseDescent(append(out, p.GetElem()...)), nil
}

// collapseDescent merges runs of "..." into one: "a/.../.../b" selects
// what "a/.../b" selects, once, and matching stays linear in the tree.
func collapseDescent(elems []*gpb.PathElem) []*gpb.PathElem {
	for i := 1; i < len(elems); i++ {
		if elems[i].GetName() == "..." && elems[i-1].GetName() == "..." {
			out := append([]*gpb.PathElem(nil), elems[:i]...)
			for _, e := range elems[i:] {
				if e.GetName() == "..." && out[len(out)-1].GetName() == "..." {
					continue
				}
				out = append(out, e)
			}
			return out
		}
	}
	return elems
}

// Bounds of one path beyond those of server.Limits: no name of our schema
// comes close, and no list has more than a few keys.
const (
	maxElemName = 256
	maxElemKeys = 8
	// maxEcho is how much of a client's name an error repeats.
	maxEcho = 64
)

// pathBounds refuses a request path (prefix + path) that no schema node
// could need, before anything is done with it: too many elements, too
// many keys, names or values too long. The error never repeats more than
// a few bytes of what the client sent.
func pathBounds(lim server.Limits, prefix, p *gpb.Path) error {
	elems, size := 0, 0
	for _, x := range []*gpb.Path{prefix, p} {
		if x == nil {
			continue
		}
		//lint:ignore SA1019 the deprecated form is bounded like the other
		for _, old := range x.Element {
			elems++
			size += len(old)
			if len(old) > maxElemName {
				return status.Errorf(codes.InvalidArgument, "path element %q is %d bytes long; at most %d", server.Truncate(old, maxEcho), len(old), maxElemName)
			}
		}
		elems += len(x.Elem)
		if elems > lim.MaxPathElems {
			return status.Errorf(codes.InvalidArgument, "path has %d or more elements; at most %d", elems, lim.MaxPathElems)
		}
		size += len(x.Origin) + len(x.Target)
		for _, e := range x.Elem {
			if len(e.GetName()) > maxElemName {
				return status.Errorf(codes.InvalidArgument, "path element %q is %d bytes long; at most %d", server.Truncate(e.GetName(), maxEcho), len(e.GetName()), maxElemName)
			}
			if len(e.GetKey()) > maxElemKeys {
				return status.Errorf(codes.InvalidArgument, "path element %q has %d keys; at most %d", server.Truncate(e.GetName(), maxEcho), len(e.GetKey()), maxElemKeys)
			}
			size += len(e.GetName())
			for k, v := range e.GetKey() {
				size += len(k) + len(v)
			}
			if size > lim.MaxPathBytes {
				return status.Errorf(codes.InvalidArgument, "path is larger than %d bytes", lim.MaxPathBytes)
			}
		}
	}
	if size > lim.MaxPathBytes {
		return status.Errorf(codes.InvalidArgument, "path is larger than %d bytes", lim.MaxPathBytes)
	}
	return nil
}

// requestBounds applies pathBounds to every path of a request, before the
// request is served.
func requestBounds(lim server.Limits, req any) error {
	check := func(prefix *gpb.Path, paths ...*gpb.Path) error {
		if len(paths) == 0 {
			return pathBounds(lim, prefix, nil)
		}
		for i, p := range paths {
			if err := pathBounds(lim, prefix, p); err != nil {
				return wrapIndex(err, i)
			}
		}
		return nil
	}
	switch r := req.(type) {
	case *gpb.GetRequest:
		return check(r.Prefix, r.Path...)
	case *gpb.SetRequest:
		paths := append([]*gpb.Path(nil), r.Delete...)
		for _, u := range [][]*gpb.Update{r.Replace, r.Update, r.UnionReplace} {
			for _, x := range u {
				paths = append(paths, x.GetPath())
			}
		}
		return check(r.Prefix, paths...)
	case *gpb.SubscribeRequest:
		l := r.GetSubscribe()
		if l == nil {
			return nil
		}
		paths := make([]*gpb.Path, 0, len(l.Subscription))
		for _, sub := range l.Subscription {
			paths = append(paths, sub.GetPath())
		}
		return check(l.Prefix, paths...)
	}
	return nil
}

func wrapIndex(err error, i int) error {
	st, _ := status.FromError(err)
	return status.Error(st.Code(), fmt.Sprintf("path %d: %s", i, st.Message()))
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
