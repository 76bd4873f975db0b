package netconf

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
	wbyang "github.com/wirebeat/wirebeat/yang"
)

// Namespaces of the protocol itself.
const (
	nsBase        = "urn:ietf:params:xml:ns:netconf:base:1.0"
	nsNotif       = "urn:ietf:params:xml:ns:netconf:notification:1.0"
	nsMonitoring  = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
	nsNCNotif     = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
	nsWithDefault = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
	nsWDAttr      = "urn:ietf:params:xml:ns:netconf:default:1.0"
	nsYangLib     = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
	nsNMDA        = "urn:ietf:params:xml:ns:yang:ietf-datastores"
	nsNCNMDA      = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
	nsOrigin      = "urn:ietf:params:xml:ns:yang:ietf-origin"
)

// module is one of our YANG modules as NETCONF names it.
type module struct {
	Name, Namespace, Prefix, Revision string
	Text                              string
}

// schemaInfo is what the NETCONF codec knows of the schema: our modules,
// and for each top-level node its module.
type schemaInfo struct {
	root      *yang.Entry
	modules   []*module          // ours, sorted by name
	library   []*libModule       // the YANG library: ours and the IETF ones
	byNS      map[string]*module // namespace -> module
	byPrefix  map[string]*module
	topModule map[string]*module // top-level node name -> module
}

var (
	reModule    = regexp.MustCompile(`(?m)^module\s+([\w\-]+)`)
	reNamespace = regexp.MustCompile(`(?m)^\s*namespace\s+"([^"]+)"`)
	rePrefix    = regexp.MustCompile(`(?m)^\s*prefix\s+"?([\w\-]+)"?\s*;`)
	reRevision  = regexp.MustCompile(`(?m)^\s*revision\s+"?([0-9]{4}-[0-9]{2}-[0-9]{2})"?`)
)

// loadSchema reads the module headers from the embedded module texts (the
// generated schema does not keep namespaces) and maps top-level nodes to
// them through their prefixes.
func loadSchema() (*schemaInfo, error) {
	si := &schemaInfo{
		root:      gen.SchemaTree["Device"],
		byNS:      map[string]*module{},
		byPrefix:  map[string]*module{},
		topModule: map[string]*module{},
	}
	files, err := fs.Glob(wbyang.Files, "*.yang")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		text, err := fs.ReadFile(wbyang.Files, f)
		if err != nil {
			return nil, err
		}
		m := &module{Text: string(text)}
		for _, x := range []struct {
			re  *regexp.Regexp
			dst *string
		}{{reModule, &m.Name}, {reNamespace, &m.Namespace}, {rePrefix, &m.Prefix}, {reRevision, &m.Revision}} {
			sub := x.re.FindStringSubmatch(m.Text)
			if sub == nil {
				return nil, fmt.Errorf("%s: no %s statement", f, x.re)
			}
			*x.dst = sub[1]
		}
		si.modules = append(si.modules, m)
		si.byNS[m.Namespace] = m
		si.byPrefix[m.Prefix] = m
	}
	sort.Slice(si.modules, func(i, j int) bool { return si.modules[i].Name < si.modules[j].Name })
	for name, e := range si.root.Dir {
		if e.Prefix == nil {
			continue
		}
		m, ok := si.byPrefix[e.Prefix.Name]
		if !ok {
			return nil, fmt.Errorf("top-level node %s: unknown prefix %s", name, e.Prefix.Name)
		}
		si.topModule[name] = m
	}
	return si, nil
}

// isData reports whether a top-level schema node is a data node (not a
// notification, which the generated schema also lists at the top).
func isData(e *yang.Entry) bool {
	return e.IsContainer() || e.IsList() || e.IsLeaf() || e.IsLeafList()
}

// xpath renders a path as an XPath instance identifier with our module
// prefixes, as error-path and the RFC 6470 edit target require, together
// with the namespace declarations it needs.
func (si *schemaInfo) xpath(p *gpb.Path) (string, map[string]string) {
	if p == nil || len(p.Elem) == 0 {
		return "/", nil
	}
	m := si.topModule[p.Elem[0].Name]
	prefix := ""
	decl := map[string]string{}
	if m != nil {
		prefix = m.Prefix + ":"
		decl[m.Prefix] = m.Namespace
	}
	var b strings.Builder
	for _, e := range p.Elem {
		b.WriteString("/")
		b.WriteString(prefix)
		b.WriteString(e.Name)
		keys := make([]string, 0, len(e.Key))
		for k := range e.Key {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "[%s%s=%s]", prefix, k, xpathLiteral(e.Key[k]))
		}
	}
	return b.String(), decl
}

// xpathLiteral quotes s for XPath 1.0, which has no escapes: a value with
// both quote kinds cannot be written and is cut at the double quote.
func xpathLiteral(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	if i := strings.IndexByte(s, '"'); i >= 0 {
		s = s[:i]
	}
	return `"` + s + `"`
}
