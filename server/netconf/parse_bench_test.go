package netconf

import "testing"

// Parsing the XML of an edit-config creating 100,000 bindings.
func BenchmarkParse100kBindings(b *testing.B) {
	req := []byte(`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">` + bindingsXML(100_000) + `</rpc>`)
	b.SetBytes(int64(len(req)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := parseXML(req); err != nil {
			b.Fatal(err)
		}
	}
}
