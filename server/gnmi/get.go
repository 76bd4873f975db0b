package gnmi

import (
	"context"
	"reflect"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// Get answers a snapshot of each requested path (specification 3.3): one
// notification per path, one update per node the path selects, its value
// the JSON or JSON_IETF encoding of the subtree.
func (g *Server) Get(ctx context.Context, req *gpb.GetRequest) (*gpb.GetResponse, error) {
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
		if paths[i], err = joinPath(req.Prefix, p); err != nil {
			return nil, err
		}
		if err := checkPath(paths[i]); err != nil {
			return nil, err
		}
		full[i] = &gpb.Path{Elem: paths[i]}
	}
	view, filter, err := g.view(req.Type, full)
	if err != nil {
		return nil, err
	}
	prefix, strip := responsePrefix(req.Prefix)
	resp := &gpb.GetResponse{Notification: make([]*gpb.Notification, 0, len(paths))}
	for _, elems := range paths {
		now := time.Now().UnixNano()
		matches, err := schema.MatchPath(view, elems)
		if err != nil {
			return nil, statusOf(err)
		}
		n := &gpb.Notification{Timestamp: now, Prefix: prefix}
		for _, m := range models.filter(matches) {
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
			return nil, status.Errorf(codes.NotFound, "no data at %s", schema.PathString(&gpb.Path{Elem: elems}))
		}
		resp.Notification = append(resp.Notification, n)
	}
	return resp, nil
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
