package snabbconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/softwire/vectors"
)

func TestParseSyntax(t *testing.T) {
	src := `// comment
softwire-config { /* block
comment */ external-interface { ingress-filter "len < 0"; mtu 1500; }
  internal-interface { egress-filter 'ip6'; hairpinning false; }
}`
	root, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sc := root.Child("softwire-config")
	if sc == nil || !sc.Block {
		t.Fatalf("no softwire-config block: %+v", root)
	}
	ext := sc.Child("external-interface")
	if f := ext.Child("ingress-filter"); f == nil || f.Arg != "len < 0" {
		t.Fatalf("quoted argument: %+v", f)
	}
	if f := sc.Child("internal-interface").Child("egress-filter"); f.Arg != "ip6" {
		t.Fatalf("single-quoted argument: %+v", f)
	}
	if m := ext.Child("mtu"); m.Line != 3 {
		t.Fatalf("mtu on line %d, want 3", m.Line)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`softwire-config {`, "line 1 column 18: block \"softwire-config\" opened on line 1 is not closed"},
		{`a b c;`, `line 1 column 5: after "a" expected ";" or "{", found word`},
		{`}`, `line 1 column 1: unexpected "}"`},
		{`a "x`, `line 1 column 3: string not closed`},
		{"a /* x", `line 1 column 3: comment not closed`},
		{`{`, `line 1 column 1: expected a keyword, found "{"`},
		{`a "\q";`, `unknown escape \q`},
		{strings.Repeat("a {", 100), "nested deeper than 64"},
	} {
		_, err := Parse([]byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want %q", c.src, err, c.want)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`softwire-config { bogus 1; }`, `line 1: unknown statement "bogus" in softwire-config`},
		{`other { }`, `expected softwire-config`},
		{``, `no softwire-config block`},
		{`softwire-config { binding-table { softwire { ipv4 1.2.3; } } }`, `"1.2.3" is not an IPv4 address`},
		{`softwire-config { binding-table { softwire { ipv4 1.2.3.4; psid 1; b4-ipv6 ::1; br-address ::2; } } }`, `softwire without port-set`},
		{`softwire-config { binding-table { softwire { ipv4 1.2.3.4; psid 1; b4-ipv6 ::1; br-address ::2; port-set { psid-length 17; } } } }`, `psid-length 17 exceeds 16 bits`},
		{`softwire-config { external-interface { allow-incoming-icmp maybe; } }`, `"maybe" is not true or false`},
		{`softwire-config { instance { queue { external-interface { ip ::1; } } } }`, `"::1" is not an IPv4 address`},
		{`softwire-config { instance { queue { internal-interface { mac 1:2:3; } } } }`, `"1:2:3" is not a MAC address`},
		{`softwire-config { external-interface { mtu; } }`, `"mtu" takes a value`},
	} {
		_, err := Import([]byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Import(%q) = %v, want %q", c.src, err, c.want)
		}
	}
}

// TestImportVectorsLoad imports every configuration of the conformance
// vectors and checks the JSON loads in a server, so `wirebeat import`
// output is always a valid startup configuration.
func TestImportVectorsLoad(t *testing.T) {
	dir := vectors.Dir()
	if dir == "" {
		t.Skip("SKIP: lwAFTR conformance vectors not found beside the repository")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "conf", "*.conf"))
	if len(files) == 0 {
		t.Fatal("no conf files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dev, err := Import(src)
			if err != nil {
				t.Fatal(err)
			}
			js, err := schema.EncodeJSON(dev)
			if err != nil {
				t.Fatal(err)
			}
			s, err := server.New(server.Options{DataDir: t.TempDir(), Initial: js})
			if err != nil {
				t.Fatalf("import of %s does not load: %v\n%s", f, err, js)
			}
			run := s.Running()
			if n := len(run.GetSoftwire().GetLwaftr().GetBindingTable().Softwire); n != len(dev.Softwire.Lwaftr.BindingTable.Softwire) {
				t.Fatalf("running has %d softwires, imported %d", n, len(dev.Softwire.Lwaftr.BindingTable.Softwire))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
