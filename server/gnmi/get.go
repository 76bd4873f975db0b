package gnmi

import (
	"context"
	"reflect"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// Get answers a snapshot of each requested path (specification 3.3): one
// notification per path, one update per node the path selects, its value
// the JSON or JSON_IETF encoding of the subtree.
func (g *Server) Get(ctx context.Context, req *gpb.GetRequest) (*gpb.GetResponse, error) {
	// NACM decides a Get as it decides NETCONF's <get>.
	if err := g.srv.Exec(sessionOf(ctx), "ietf-netconf", "get"); err != nil {
		return nil, statusOf(err)
	}
	ietf, err := getEncoding(req.Encoding)
	if err != nil {
		return nil, err
	}
	models, err := modelFilter(req.UseModels)
	if err != nil {
		return nil, err
	}
	paths := make([][]*gpb.PathElem, len(req.Path))
	full := make([]*gpb.Path, len(req.Path))
	for i, p := range req.Path {
		if paths[i], err = requestPath(req.Prefix, p); err != nil {
			return nil, err
		}
		full[i] = &gpb.Path{Elem: paths[i]}
	}
	view, filter, err := g.view(req.Type, full)
	if err != nil {
		return nil, err
	}
	view = g.srv.Readable(sessionOf(ctx), view)
	prefix, strip := responsePrefix(req.Prefix)
	resp := &gpb.GetResponse{Notification: make([]*gpb.Notification, 0, len(paths))}
	for _, elems := range paths {
		now := time.Now().UnixNano()
		matches, err := schema.MatchPathContext(ctx, view, elems)
		if err != nil {
			if ctx.Err() != nil {
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return nil, statusOf(err)
		}
		n := &gpb.Notification{Timestamp: now, Prefix: prefix}
		for _, m := range models.filter(matches) {
			if ietf && !m.Leaf {
				// The members of the value's top-level object are
				// qualified with their module (RFC 7951 section 4).
				m.Module = ""
			}
			val, err := schema.EncodeMatchJSON(m, ietf, filter)
			if err != nil {
				return nil, status.Error(codes.Internal, err.Error())
			}
			if !m.Leaf && string(val) == "{}" && len(m.Path) > 0 {
				continue // nothing of the requested type there
			}
			tv := &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: val}}
			if ietf {
				tv.Value = &gpb.TypedValue_JsonIetfVal{JsonIetfVal: val}
			}
			n.Update = append(n.Update, &gpb.Update{Path: &gpb.Path{Elem: m.Path[min(strip, len(m.Path)):]}, Val: tv})
		}
		if len(n.Update) == 0 && selectsOne(elems) {
			// A leaf whose default is in use has that value
			// (specification 3.3.4); anything else absent is NOT_FOUND.
			tv, err := defaultValue(view, elems, req.Type, ietf)
			if err != nil {
				return nil, err
			}
			if tv == nil {
				return nil, status.Errorf(codes.NotFound, "no data at %s", schema.PathString(&gpb.Path{Elem: elems}))
			}
			n.Update = append(n.Update, &gpb.Update{Path: &gpb.Path{Elem: elems[min(strip, len(elems)):]}, Val: tv})
		}
		resp.Notification = append(resp.Notification, n)
	}
	return resp, nil
}

// requestPath joins prefix and p, checks the result against the schema
// and brings its key values to the form the datastores keep, so that
// 2001:DB8:0:0::5 names the entry stored as 2001:db8::5. A path the schema
// does not have is NOT_FOUND (specification 3.3.4); a malformed one, or a
// key value not of its type, INVALID_ARGUMENT.
func requestPath(prefix, p *gpb.Path) ([]*gpb.PathElem, error) {
	elems, err := joinPath(prefix, p)
	if err != nil {
		return nil, err
	}
	if err := schema.CheckPath(elems); err != nil {
		code := codes.InvalidArgument
		if schema.AsError(err).Tag == schema.TagUnknownElement {
			code = codes.NotFound
		}
		return nil, status.Error(code, "invalid path: "+err.Error())
	}
	out, err := schema.CanonicalPath(elems)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "invalid path: "+err.Error())
	}
	return out, nil
}

// defaultValue returns the value of the leaf or leaf-list elems names when
// it is absent from view and its schema default is in use: the default
// applies when the nearest ancestor that can be absent (a list entry or
// a presence container) exists (RFC 7950 section 7.6.1). nil when there
// is no such default, or when the Get type excludes the leaf.
func defaultValue(view *gen.Device, elems []*gpb.PathElem, t gpb.GetRequest_DataType, ietf bool) (*gpb.TypedValue, error) {
	info, err := schema.ResolveNode(elems)
	if err != nil || (info.Kind != schema.KindLeaf && info.Kind != schema.KindLeafList) {
		return nil, nil
	}
	defs := info.Schema.DefaultValues()
	if len(defs) == 0 || (t == gpb.GetRequest_CONFIG && !info.Config) ||
		((t == gpb.GetRequest_STATE || t == gpb.GetRequest_OPERATIONAL) && info.Config) {
		return nil, nil
	}
	anc := len(elems) - 1
	for anc > 0 {
		pi, err := schema.ResolveNode(elems[:anc])
		if err != nil {
			return nil, nil
		}
		if pi.Kind != schema.KindContainer || isPresence(pi.Schema) {
			break
		}
		anc--
	}
	if anc > 0 {
		ms, err := schema.MatchPath(view, elems[:anc])
		if err != nil || len(ms) == 0 {
			return nil, nil
		}
	}
	field := reflect.New(info.Type).Elem()
	for _, d := range defs {
		if err := schema.SetLeafText(info.Schema, field, d); err != nil {
			return nil, status.Errorf(codes.Internal, "default of %s: %v", schema.PathString(&gpb.Path{Elem: elems}), err)
		}
	}
	val, err := schema.EncodeMatchJSON(schema.Match{Path: elems, Schema: info.Schema, Value: field, Module: info.Module, Leaf: true}, ietf, nil)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if ietf {
		return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: val}}, nil
	}
	return &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: val}}, nil
}

func isPresence(s *yang.Entry) bool {
	c, ok := s.Node.(*yang.Container)
	return ok && c.Presence != nil
}

// getEncoding accepts the encodings of Capabilities; JSON is the default
// (specification 3.3.1).
func getEncoding(enc gpb.Encoding) (ietf bool, err error) {
	switch enc {
	case gpb.Encoding_JSON:
		return false, nil
	case gpb.Encoding_JSON_IETF:
		return true, nil
	}
	return false, status.Errorf(codes.Unimplemented, "encoding %s is not supported: use JSON or JSON_IETF", enc)
}

// view returns the tree a Get of type t reads and the filter of its
// encoding.
func (g *Server) view(t gpb.GetRequest_DataType, paths []*gpb.Path) (*gen.Device, schema.NodeFilter, error) {
	switch t {
	case gpb.GetRequest_ALL:
		v, err := g.srv.View(paths)
		return v, nil, statusOf(err)
	case gpb.GetRequest_CONFIG:
		return g.srv.Running(), schema.ConfigOnly, nil
	case gpb.GetRequest_STATE, gpb.GetRequest_OPERATIONAL:
		v, err := g.srv.State(paths)
		return v, schema.StateOnly, statusOf(err)
	}
	return nil, nil, status.Errorf(codes.InvalidArgument, "unknown data type %d", t)
}

// modelSet restricts data to the modules of use_models (specification
// 2.6); nil means all.
type modelSet map[string]bool

func modelFilter(use []*gpb.ModelData) (modelSet, error) {
	if len(use) == 0 {
		return nil, nil
	}
	set := modelSet{}
	for _, m := range use {
		if !knownModel(m) {
			return nil, status.Errorf(codes.InvalidArgument, "use_models: this element has no model %s %s %s", m.Name, m.Organization, m.Version)
		}
		set[m.Name] = true
	}
	return set, nil
}

// filter drops matches under top containers of other modules and trims a
// match of the root to the allowed ones.
func (s modelSet) filter(ms []schema.Match) []schema.Match {
	if s == nil {
		return ms
	}
	out := ms[:0]
	for _, m := range ms {
		if len(m.Path) > 0 {
			if s[topModule(m.Path)] {
				out = append(out, m)
			}
			continue
		}
		root := m.Value.Interface().(*gen.Device)
		trimmed := &gen.Device{}
		if s["wirebeat-system"] {
			trimmed.System = root.System
		}
		if s["wirebeat-bfd"] {
			trimmed.Bfd = root.Bfd
		}
		if s["wirebeat-softwire"] {
			trimmed.Softwire = root.Softwire
		}
		if s["wirebeat-sfc"] {
			trimmed.Sfc = root.Sfc
		}
		m.Value = reflect.ValueOf(trimmed)
		out = append(out, m)
	}
	return out
}

// topModule is the module of the top container a path starts with.
func topModule(elems []*gpb.PathElem) string {
	info, err := schema.ResolveNode(elems[:1])
	if err != nil {
		return ""
	}
	return info.Module
}

// selectsOne reports whether a path names one node: no wildcards, every
// key given. Only such a path is NOT_FOUND when absent; for a query an
// empty answer is the answer.
func selectsOne(elems []*gpb.PathElem) bool {
	if schema.HasWildcards(elems) {
		return false
	}
	info, err := schema.ResolveNode(elems)
	return err == nil && info.Kind != schema.KindList
}
