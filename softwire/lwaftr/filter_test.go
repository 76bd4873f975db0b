package lwaftr

import (
	"strings"
	"testing"
)

func TestFilter(t *testing.T) {
	v4 := ipv4TCP(tInet, 0x64400000, 80, 1000, 64)[14:]
	v6 := ipv6Encap(ipv4TCP(tInet, 0x64400000, 80, 1000, 64), b4Addr(1), brAddr())[14:]
	for _, c := range []struct {
		expr   string
		v4, v6 bool
	}{
		{"ip", true, false},
		{"ip6", false, true},
		{"len < 0", false, false},
		{"not ip", false, true},
		{"ip or ip6", true, true},
		{"tcp and port 80", true, false},
		{"dst port 1000", true, false},
		{"src port 1000", false, false},
		{"host 149.174.156.93", true, false},
		{"dst host 8:9:a:b:c:d:e:f", false, true},
		{"src host 8:9:a:b:c:d:e:f", false, false},
		{"(ip && len >= 54) || arp", true, false},
		{"len == 54", true, false},
	} {
		f, err := CompileFilter(c.expr)
		if err != nil {
			t.Fatalf("%q: %v", c.expr, err)
		}
		if got := f.Match(etIPv4, v4); got != c.v4 {
			t.Errorf("%q on IPv4 = %v", c.expr, got)
		}
		if got := f.Match(etIPv6, v6); got != c.v6 {
			t.Errorf("%q on IPv6 = %v", c.expr, got)
		}
	}
	for _, c := range []struct{ expr, want string }{
		{"", "empty"},
		{"ether host 1", `unsupported word "ether"`},
		{"ip and", "ends too early"},
		{"(ip", `missing ")"`},
		{"len ~ 3", "expected a comparison"},
		{"port 70000", "0..65535"},
		{"ip ip6", `unexpected "ip6"`},
	} {
		if _, err := CompileFilter(c.expr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CompileFilter(%q) = %v, want %q", c.expr, err, c.want)
		}
	}
}
