package bindstore

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
)

func mustB(ipv4 string, psid uint16, off, l uint8, b4, br string) Binding {
	return Binding{IPv4: ipv4Of(netip.MustParseAddr(ipv4)), PSID: psid,
		PortSet: bindingtable.PortSet{Offset: off, Length: l},
		B4:      netip.MustParseAddr(b4).As16(), BR: netip.MustParseAddr(br).As16()}
}

func TestKeyRoundTrip(t *testing.T) {
	k := Key(DefaultPrefix, 0xc0000201, 17)
	if k != "/wirebeat/lwaftr/bindings/192.0.2.1/17" {
		t.Fatalf("key %q", k)
	}
	a, p, err := ParseKey(DefaultPrefix, k)
	if err != nil || a != 0xc0000201 || p != 17 {
		t.Fatalf("ParseKey = %x %d %v", a, p, err)
	}
	for _, bad := range []string{"/other/192.0.2.1/1", DefaultPrefix + "192.0.2.1", DefaultPrefix + "192.0.2.1/65536",
		DefaultPrefix + "192.0.2.1/01", DefaultPrefix + "2001:db8::1/1", DefaultPrefix + "192.0.2.1/1/2", DefaultPrefix + "192.0.2.1/-1"} {
		if _, _, err := ParseKey(DefaultPrefix, bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	b := mustB("192.0.2.1", 5, 6, 4, "2001:db8::1", "2001:db8:ffff::1")
	v := Encode(b)
	want := `{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8:ffff::1","port-set":{"psid-offset":6,"psid-length":4}}`
	if string(v) != want {
		t.Fatalf("Encode = %s\nwant %s", v, want)
	}
	got, err := Decode(b.IPv4, b.PSID, v)
	if err != nil || got != b {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	// Snabb's name for the offset is accepted, as in the configuration.
	got, err = Decode(b.IPv4, b.PSID, []byte(`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8:ffff::1","port-set":{"reserved-ports-bit-count":6,"psid-length":4}}`))
	if err != nil || got != b {
		t.Fatalf("Decode reserved-ports-bit-count = %+v, %v", got, err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	ok := `{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4}}`
	if _, err := Decode(0xc0000201, 5, []byte(ok)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ v, why string }{
		{`not json`, "invalid character"},
		{``, "EOF"},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2"}`, "psid-length missing"},
		{`{"psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "ipv4 missing"},
		{`{"ipv4":"192.0.2.1","psid":5,"br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "b4-ipv6 missing"},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","port-set":{"psid-length":4}}`, "br-address missing"},
		{`{"ipv4":"192.0.2.1","b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "psid missing"},
		{`{"ipv4":"192.0.2.2","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "value is for 192.0.2.2/5"},
		{`{"ipv4":"192.0.2.1","psid":6,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "value is for 192.0.2.1/6"},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"192.0.2.9","br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "b4-ipv6 \"192.0.2.9\""},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"::ffff:1.2.3.4","br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "b4-ipv6"},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":17}}`, "psid-length 17 out of range"},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":2}}`, "does not fit"},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-offset":13,"psid-length":4}}`, "exceeds 16"},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-offset":6,"reserved-ports-bit-count":4,"psid-length":4}}`, "differ"},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4},"x":1}`, "unknown field"},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4}} {}`, "data after"},
		{`{"ipv4":"192.0.2.1","psid":5.5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "psid"},
		{`{"ipv4":"192.0.2.1","psid":-1,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "out of range"},
		{`{"ipv4":"192.0.2.1","psid":"5","b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "psid"},
		{`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"fe80::1%eth0","br-address":"2001:db8::2","port-set":{"psid-length":4}}`, "b4-ipv6"},
		{strings.Repeat(" ", MaxValueBytes+1), "at most"},
	} {
		_, err := Decode(0xc0000201, 5, []byte(c.v))
		if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("Decode(%.60s) = %v, want an ErrMalformed mentioning %q", c.v, err, c.why)
		}
	}
}

// FuzzDecode: values come from etcd, which anyone with write access to the
// prefix fills; nothing may crash, and what decodes re-encodes to a value
// that decodes to the same binding.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-length":4}}`))
	f.Add([]byte(`{"ipv4":"192.0.2.1","psid":5,"b4-ipv6":"2001:db8::1","br-address":"2001:db8::2","port-set":{"psid-offset":6,"psid-length":4}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		b, err := Decode(0xc0000201, 5, v)
		if err != nil {
			return
		}
		again, err := Decode(0xc0000201, 5, Encode(b))
		if err != nil || again != b {
			t.Fatalf("re-decode %+v: %+v %v", b, again, err)
		}
	})
}

func TestInstallOverlap(t *testing.T) {
	entries, addrs, refused := map[uint64]entry{}, map[uint32]addrSplit{}, map[uint64]entry{}
	a := entry{b: mustB("192.0.2.1", 1, 0, 2, "2001:db8::1", "2001:db8::ff")}
	b := entry{b: mustB("192.0.2.1", 2, 0, 4, "2001:db8::2", "2001:db8::ff")}
	c := entry{b: mustB("192.0.2.1", 2, 0, 2, "2001:db8::2", "2001:db8::ff")}
	if !install(entries, addrs, refused, a, nil) {
		t.Fatal("first entry refused")
	}
	if install(entries, addrs, refused, b, nil) {
		t.Fatal("entry with another split installed")
	}
	if _, ok := refused[ckey(b.b.IPv4, 2)]; !ok {
		t.Fatal("refused entry not kept for retry")
	}
	if !install(entries, addrs, refused, c, nil) {
		t.Fatal("entry with the same split refused")
	}
	// The only entry of an address may change its split.
	d := entry{b: mustB("192.0.2.9", 0, 0, 0, "2001:db8::9", "2001:db8::ff")}
	install(entries, addrs, refused, d, nil)
	d.b.PortSet.Length, d.b.PSID = 3, 0
	if !install(entries, addrs, refused, d, nil) || addrs[d.b.IPv4].ps.Length != 3 || addrs[d.b.IPv4].refs != 1 {
		t.Fatalf("split change of a lone entry: %+v", addrs[d.b.IPv4])
	}
}
