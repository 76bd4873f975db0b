package netconf

import (
	"bytes"
	"strconv"
	"testing"
)

// BenchmarkXPathEngine evaluates a descendant step with a comparison over
// 10,000 list entries (sibling moves are O(1) in xpathNav: the index of
// each node on the way down is kept) and writes the selection.
func BenchmarkXPathEngine(b *testing.B) {
	si, err := loadSchema()
	if err != nil {
		b.Fatal(err)
	}
	var x bytes.Buffer
	x.WriteString(`<data><bfd xmlns="urn:wirebeat:bfd"><profiles>`)
	for i := 0; i < 10000; i++ {
		x.WriteString("<profile><name>p" + strconv.Itoa(i) + "</name><detection-multiplier>" + strconv.Itoa(i%10+1) + "</detection-multiplier></profile>")
	}
	x.WriteString(`</profiles></bfd></data>`)
	doc, err := parseXML(x.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	expr, err := compileXPath("//b:profile[b:detection-multiplier > 9]/b:name", map[string]string{"b": "urn:wirebeat:bfd"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		if err := si.xpathSelect(&out, doc, expr); err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.Contains(out.Bytes(), []byte("<name>p9</name>")) {
		b.Fatalf("selection: %.200s", out.Bytes())
	}
}
