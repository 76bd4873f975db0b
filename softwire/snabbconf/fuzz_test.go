package snabbconf

import "testing"

// FuzzImport parses and maps arbitrary text: a precise error or a tree,
// never a panic.
func FuzzImport(f *testing.F) {
	f.Add([]byte("softwire-config { binding-table { softwire { ipv4 1.2.3.4; psid 1; b4-ipv6 ::1; br-address ::2; port-set { psid-length 2; } } } }"))
	f.Add([]byte(`softwire-config { external-interface { ingress-filter "len < 0"; } /* x */ }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		_, _ = Import(src)
	})
}
