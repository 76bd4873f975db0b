package netconf

import (
	"bytes"
	"testing"
)

// FuzzXPathFilter feeds client-written select expressions through both
// XPath paths (the filter tree and the engine) over a small document:
// whatever the text, an error or an answer, never a panic.
func FuzzXPathFilter(f *testing.F) {
	si, err := loadSchema()
	if err != nil {
		f.Fatal(err)
	}
	doc, err := parseXML([]byte(`<data><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>a</name><detection-multiplier>3</detection-multiplier></profile>` +
		`<profile><name>b</name><detection-multiplier>7</detection-multiplier></profile></profiles></bfd><system xmlns="urn:wirebeat:system"><hostname>h</hostname></system></data>`))
	if err != nil {
		f.Fatal(err)
	}
	ns := map[string]string{"b": "urn:wirebeat:bfd", "s": "urn:wirebeat:system"}
	for _, s := range []string{"/b:bfd", "/b:bfd/b:profiles/b:profile[b:name='a']", "//b:profile[b:detection-multiplier > 5]/b:name",
		"/s:system | /b:bfd/*", "count(//*)", "/b:bfd[", "//*[starts-with(name(), 'pro')]", "/b:bfd/b:profiles/b:profile[last()]/..", "@*", "//text()"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sel string) {
		if _, err := si.parseXPathFilter(sel, ns); err == nil {
			return
		}
		expr, err := compileXPath(sel, ns)
		if err != nil {
			return
		}
		var b bytes.Buffer
		si.xpathSelect(&b, doc, expr)
	})
}
