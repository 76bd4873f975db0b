package netconf

import (
	"fmt"
	"strings"
	"testing"
)

// dump renders a parsed tree canonically for comparison.
func dump(n *xnode) string {
	var b strings.Builder
	var rec func(n *xnode, depth int)
	rec = func(n *xnode, depth int) {
		fmt.Fprintf(&b, "%s{%s}%s", strings.Repeat(" ", depth), n.Name.Space, n.Name.Local)
		for _, a := range n.Attr {
			fmt.Fprintf(&b, " {%s}%s=%q", a.Name.Space, a.Name.Local, a.Value)
		}
		fmt.Fprintf(&b, " text=%q\n", n.Text)
		for _, c := range n.Children {
			rec(c, depth+1)
		}
	}
	rec(n, 0)
	return b.String()
}

var xmlSeeds = []string{
	`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>`,
	`<?xml version="1.0" encoding="UTF-8"?><!-- c --><a xmlns:p="u" p:x='1&amp;2'><p:b>t&lt;&#65;&#x42;<![CDATA[<raw>]]></p:b><c/><?pi x?></a>`,
	"<a>\n  <b> x </b>\n</a>",
	`<a xmlns="u1"><b xmlns="u2"><c/></b><d/></a>`,
	`<a><b></a>`, `<a x="1" x="2"/>`, `<!DOCTYPE a><a/>`, `<a>&bogus;</a>`, `<p:a/>`, `<a/><b/>`,
	`<a x=1/>`, "<a>\x01</a>", `<a>&#0;</a>`, "<a>\xff</a>", `<a></b>`, `<a`, ``,
}

// Both parsers agree on documents both accept, and ours accepts nothing
// encoding/xml refuses as malformed.
func FuzzParseXML(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ours, errOurs := parseXML(data)
		std, errStd := parseXMLStd(data)
		if errOurs == nil && errStd == nil {
			if a, b := dump(ours), dump(std); a != b {
				t.Fatalf("trees differ on %q:\nours:\n%s\nencoding/xml:\n%s", data, a, b)
			}
		}
		if errOurs == nil && errStd != nil && !strings.Contains(errStd.Error(), "unexpected EOF") {
			// encoding/xml is stricter in places XML allows (it refuses
			// some names we accept); we only require that we never accept
			// what is not well-formed in ways that matter to NETCONF.
			if strings.Contains(errStd.Error(), "unclosed") || strings.Contains(errStd.Error(), "closed by") ||
				strings.Contains(errStd.Error(), "undeclared") || strings.Contains(errStd.Error(), "more than one root") {
				t.Fatalf("we accept %q which encoding/xml refuses: %v", data, errStd)
			}
		}
	})
}

func TestParseXMLAgreesOnSeeds(t *testing.T) {
	// Not well-formed XML that encoding/xml's raw tokenizer lets through.
	stricter := map[string]bool{`<a x="1" x="2"/>`: true}
	for _, s := range xmlSeeds {
		ours, errOurs := parseXML([]byte(s))
		std, errStd := parseXMLStd([]byte(s))
		if stricter[s] {
			if errOurs == nil {
				t.Errorf("%q accepted", s)
			}
			continue
		}
		if (errOurs == nil) != (errStd == nil) {
			t.Errorf("%q: ours %v, encoding/xml %v", s, errOurs, errStd)
			continue
		}
		if errOurs == nil && dump(ours) != dump(std) {
			t.Errorf("%q:\nours:\n%s\nencoding/xml:\n%s", s, dump(ours), dump(std))
		}
	}
}
