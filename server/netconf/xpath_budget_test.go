package netconf

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
)

// A quadratic expression over a large tree is stopped by the step budget
// with resource-denied, while linear ones over the same tree, predicates
// and all, are answered.
func TestXPathBudget(t *testing.T) {
	si, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	var x bytes.Buffer
	x.WriteString(`<data><bfd xmlns="urn:wirebeat:bfd"><profiles>`)
	for i := 0; i < 5000; i++ {
		x.WriteString("<profile><name>p" + strconv.Itoa(i) + "</name><detection-multiplier>" + strconv.Itoa(i%10+1) + "</detection-multiplier></profile>")
	}
	x.WriteString(`</profiles></bfd></data>`)
	doc, err := parseXML(x.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ns := map[string]string{"b": "urn:wirebeat:bfd"}
	for _, ok := range []string{
		"//b:profile[b:detection-multiplier > 9]/b:name",
		"/b:bfd/b:profiles/b:profile[b:name='p4999' or starts-with(b:name, 'p12')][b:detection-multiplier != 3]",
		"//*[contains(., 'p4321')]",
	} {
		expr, err := compileXPath(ok, ns)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := si.xpathSelect(&b, doc, expr); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"//b:profile[count(//b:name) > 0]",
		"//*[count(preceding::*) > 2]",
	} {
		expr, err := compileXPath(bad, ns)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		err = si.xpathSelect(&b, doc, expr)
		if !errors.Is(err, errXPathBudget) {
			t.Errorf("%s: %v, want the budget's error", bad, err)
			continue
		}
		if e := filterError(err); e.Tag != "resource-denied" {
			t.Errorf("%s: tag %s", bad, e.Tag)
		}
	}
}
