package classify

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// naive is the definition Lookup must agree with: every rule in order.
func naive(rules []Rule, k *Key) (uint32, bool) {
	best := -1
	for i := range rules {
		r := compiled{Rule: rules[i]}
		if !addrMatch(r.Src, k.V6, k.Src) || !addrMatch(r.Dst, k.V6, k.Dst) || !r.matchRest(k) {
			continue
		}
		if best < 0 || r.Priority < rules[best].Priority || (r.Priority == rules[best].Priority && r.Name < rules[best].Name) {
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	return rules[best].MapIndex, true
}

func addrMatch(p netip.Prefix, v6 bool, a [2]uint64) bool {
	if !p.IsValid() {
		return true
	}
	if p.Addr().Is4() == v6 {
		return false
	}
	var addr netip.Addr
	if v6 {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], a[0])
		binary.BigEndian.PutUint64(b[8:], a[1])
		addr = netip.AddrFrom16(b)
	} else {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(a[0]>>32))
		addr = netip.AddrFrom4(b)
	}
	return p.Contains(addr)
}

func lookupMap(c *Classifier, k *Key) (uint32, bool) {
	r := c.Lookup(k)
	if r < 0 {
		return 0, false
	}
	return c.Rule(r).MapIndex, true
}

func udp4(src, dst string, dscp uint8, sport, dport uint16) []byte {
	p := make([]byte, 28)
	p[0], p[1], p[9] = 0x45, dscp<<2, 17
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], dport)
	return p
}

func TestFirstMatchByPriority(t *testing.T) {
	rules := []Rule{
		{Name: "web", Priority: 10, Dst: pfx("192.0.2.0/24"), HasProto: true, Proto: 17, DstPort: PortRange{true, 80, 443}, MapIndex: 1},
		{Name: "any-to-net", Priority: 20, Dst: pfx("192.0.2.0/24"), MapIndex: 2},
		{Name: "b-ef", Priority: 5, HasDSCP: true, DSCP: 46, MapIndex: 3},
		{Name: "a-ef", Priority: 5, HasDSCP: true, DSCP: 46, Src: pfx("198.51.100.0/24"), MapIndex: 4},
		{Name: "v6", Priority: 1, Src: pfx("2001:db8::/32"), MapIndex: 6},
	}
	c, err := New(rules)
	if err != nil {
		t.Fatal(err)
	}
	var k Key
	for _, tc := range []struct {
		pkt  []byte
		want uint32
	}{
		{udp4("10.0.0.1", "192.0.2.7", 0, 1000, 80), 1},
		{udp4("10.0.0.1", "192.0.2.7", 0, 1000, 8080), 2},
		{udp4("10.0.0.1", "192.0.2.7", 46, 1000, 80), 3},
		{udp4("198.51.100.1", "192.0.2.7", 46, 1000, 80), 4}, // equal priority: name order
		{udp4("10.0.0.1", "203.0.113.1", 0, 1, 2), 0},
	} {
		if err := Parse(tc.pkt, &k); err != nil {
			t.Fatal(err)
		}
		got, _ := lookupMap(c, &k)
		if got != tc.want {
			t.Errorf("%v: map %d, want %d", k, got, tc.want)
		}
	}
	// A later fragment carries no ports: the port rule cannot match.
	p := udp4("10.0.0.1", "192.0.2.7", 0, 1000, 80)
	p[7] = 10
	_ = Parse(p, &k)
	if got, _ := lookupMap(c, &k); got != 2 {
		t.Errorf("later fragment: map %d, want 2", got)
	}
	if _, err := New([]Rule{{Src: pfx("10.0.0.0/8"), Dst: pfx("2001:db8::/32")}}); err == nil {
		t.Error("mixed families accepted")
	}
	if _, err := New([]Rule{{DstPort: PortRange{true, 9, 8}}}); err == nil {
		t.Error("inverted range accepted")
	}
}

func TestIPv6ExtensionHeaders(t *testing.T) {
	p := make([]byte, 40+8+8+4)
	p[0] = 0x60 | 0x0b // traffic class 0xb8 = DSCP 46
	p[1] = 0x80
	p[6] = 0 // hop-by-hop
	src := netip.MustParseAddr("2001:db8::1").As16()
	copy(p[8:], src[:])
	p[40] = 44 // next: fragment
	p[48] = 6  // next: TCP, offset 0
	binary.BigEndian.PutUint16(p[56:], 1234)
	binary.BigEndian.PutUint16(p[58:], 22)
	var k Key
	if err := ParseIPv6(p, &k); err != nil {
		t.Fatal(err)
	}
	if k.Proto != 6 || !k.HasPorts || k.DstPort != 22 || k.DSCP != 46 || !k.V6 {
		t.Fatalf("%+v", k)
	}
	c, _ := New([]Rule{{Name: "ssh", Src: pfx("2001:db8::/64"), DstPort: PortRange{true, 22, 22}, HasDSCP: true, DSCP: 46, MapIndex: 9}})
	if got, _ := lookupMap(c, &k); got != 9 {
		t.Fatalf("map %d", got)
	}
	for n := range len(p) {
		_ = Parse(p[:n], &k) // must not panic
	}
}

// randomRules makes n rules of the shapes an operator writes: host and
// subnet destinations, source subnets, ports and port ranges, DSCP.
func randomRules(rng *rand.Rand, n int) []Rule {
	rules := make([]Rule, n)
	for i := range rules {
		r := Rule{Name: string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)), Priority: uint32(rng.IntN(50)), MapIndex: uint32(i + 1)}
		switch rng.IntN(4) {
		case 0:
			r.Dst = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))}), 32)
		case 1:
			r.Dst = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), 0}), 24)
		case 2:
			r.Src = netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(rng.IntN(256)), 0}), 24)
			r.Dst = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), 0, 0}), 16)
		case 3:
			r.Src = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(rng.IntN(4))}), 40)
		}
		if rng.IntN(2) == 0 {
			r.HasProto, r.Proto = true, []uint8{6, 17}[rng.IntN(2)]
		}
		if rng.IntN(2) == 0 {
			lo := uint16(rng.IntN(2000))
			hi := lo
			if rng.IntN(3) == 0 {
				hi += uint16(rng.IntN(100))
			}
			r.DstPort = PortRange{true, lo, hi}
		}
		if rng.IntN(8) == 0 {
			r.SrcPort = PortRange{true, 1024, 65535}
		}
		if rng.IntN(6) == 0 {
			r.HasDSCP, r.DSCP = true, uint8(rng.IntN(64))
		}
		rules[i] = r
	}
	return rules
}

func randomKey(rng *rand.Rand, rules []Rule, k *Key) {
	// Half the keys are built from a rule so that matches are common.
	*k = Key{Proto: []uint8{6, 17, 1}[rng.IntN(3)], DSCP: uint8(rng.IntN(64))}
	k.Src = [2]uint64{uint64(0xac100000|rng.IntN(1<<16)) << 32, 0}
	k.Dst = [2]uint64{uint64(0x0a000000|rng.IntN(1<<18)) << 32, 0}
	if rng.IntN(5) == 0 {
		k.V6 = true
		k.Src = [2]uint64{0x20010db800000000 | uint64(rng.IntN(4))<<24, rng.Uint64()}
	}
	r := &rules[rng.IntN(len(rules))]
	if rng.IntN(2) == 0 {
		if r.Dst.IsValid() {
			k.Dst = words(r.Dst.Addr())
		}
		if r.Src.IsValid() {
			k.Src = words(r.Src.Addr())
			k.V6 = !r.Src.Addr().Is4()
		}
		if r.HasProto {
			k.Proto = r.Proto
		}
		if r.HasDSCP && rng.IntN(2) == 0 {
			k.DSCP = r.DSCP
		}
	}
	if k.Proto != 1 {
		k.HasPorts = true
		k.SrcPort = uint16(rng.IntN(65536))
		k.DstPort = uint16(rng.IntN(2100))
		if r.DstPort.Set && rng.IntN(2) == 0 {
			k.DstPort = r.DstPort.Lo
		}
	}
}

func TestAgreesWithLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 10, 300, 3000} {
		rules := randomRules(rng, n)
		c, err := New(rules)
		if err != nil {
			t.Fatal(err)
		}
		var k Key
		matched := 0
		for range 20000 {
			randomKey(rng, rules, &k)
			want, wok := naive(rules, &k)
			got, gok := lookupMap(c, &k)
			if want != got || wok != gok {
				t.Fatalf("%d rules, key %+v: got %d,%v want %d,%v", n, k, got, gok, want, wok)
			}
			if gok {
				matched++
			}
		}
		t.Logf("%d rules: %d of 20000 keys matched", n, matched)
	}
}

func TestLookupNoAlloc(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rules := randomRules(rng, 1000)
	c, _ := New(rules)
	var k Key
	randomKey(rng, rules, &k)
	if a := testing.AllocsPerRun(1000, func() { c.Lookup(&k) }); a != 0 {
		t.Fatalf("%v allocations per lookup", a)
	}
}

// BenchmarkLookup10k: lookups per second with 10,000 rules.
func BenchmarkLookup10k(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	rules := randomRules(rng, 10000)
	c, err := New(rules)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]Key, 4096)
	for i := range keys {
		randomKey(rng, rules, &keys[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Lookup(&keys[i&4095])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// rangeRules: 10,000 rules on one address pair that differ only in their
// destination port range (overlapping), the case a linear scan per bucket
// would make slow.
func rangeRules(rng *rand.Rand, n int) []Rule {
	rules := make([]Rule, n)
	for i := range rules {
		lo := uint16(rng.IntN(60000))
		rules[i] = Rule{Name: fmt.Sprintf("r%05d", i), Priority: uint32(rng.IntN(1000)), Dst: netip.MustParsePrefix("10.0.0.0/8"),
			HasProto: true, Proto: 17, DstPort: PortRange{true, lo, lo + uint16(rng.IntN(50))}, MapIndex: uint32(i + 1)}
	}
	return rules
}

func TestPortRangeIndexAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	rules := rangeRules(rng, 3000)
	// Some rules without a port range and a few wide ones in the same bucket.
	rules = append(rules, Rule{Name: "any", Priority: 500, Dst: netip.MustParsePrefix("10.0.0.0/8"), MapIndex: 90001},
		Rule{Name: "wide", Priority: 2, Dst: netip.MustParsePrefix("10.0.0.0/8"), DstPort: PortRange{true, 1000, 40000}, MapIndex: 90002})
	c, err := New(rules)
	if err != nil {
		t.Fatal(err)
	}
	for range 20000 {
		k := Key{Proto: 17, HasPorts: rng.IntN(10) != 0, DstPort: uint16(rng.IntN(65536)), Dst: [2]uint64{uint64(0x0a000000|rng.IntN(1<<24)) << 32, 0}}
		want, wok := naive(rules, &k)
		got, gok := lookupMap(c, &k)
		if want != got || wok != gok {
			t.Fatalf("key %+v: got %d,%v want %d,%v", k, got, gok, want, wok)
		}
	}
}

// BenchmarkLookup10kPortRanges: 10,000 rules in one bucket, by port range.
func BenchmarkLookup10kPortRanges(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	c, err := New(rangeRules(rng, 10000))
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]Key, 4096)
	for i := range keys {
		keys[i] = Key{Proto: 17, HasPorts: true, DstPort: uint16(rng.IntN(60050)), Dst: [2]uint64{uint64(0x0a000000|rng.IntN(1<<24)) << 32, 0}}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Lookup(&keys[i&4095])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

func FuzzParse(f *testing.F) {
	f.Add(udp4("10.0.0.1", "192.0.2.7", 0, 1000, 80))
	f.Add(make([]byte, 60))
	f.Fuzz(func(t *testing.T, b []byte) {
		var k Key
		_ = Parse(b, &k)
	})
}
