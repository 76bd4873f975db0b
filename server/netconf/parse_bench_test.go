package netconf

import "testing"

// Parsing the XML of an edit-config creating 100,000 bindings, with our
// parser and with the encoding/xml one it replaces (parseXMLStd, the
// reference of FuzzParseXML): the figure behind xmlparse.go's claim.
func BenchmarkParse100kBindings(b *testing.B) {
	req := []byte(`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">` + bindingsXML(100_000) + `</rpc>`)
	for _, p := range []struct {
		name  string
		parse func([]byte) (*xnode, error)
	}{{"ours", parseXML}, {"encoding-xml", parseXMLStd}} {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := p.parse(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
