package dslite

import (
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

type discard struct{ n int }

func (d *discard) SendIPv4(p []byte) { d.n++ }
func (d *discard) SendIPv6(p []byte) { d.n++ }

func benchB4(i int) netip.Addr {
	var a [16]byte
	copy(a[:], b4A.AsSlice()[:8])
	be.PutUint32(a[12:], uint32(i))
	return netip.AddrFrom16(a)
}

const (
	benchB4s      = 100_000
	benchPerB4    = 10
	benchTemplate = 4096
)

// benchAFTR is an AFTR with 100k B4s of 10 UDP sessions each (1M
// sessions), built once, and packets of random existing sessions in
// both directions.
var benchAFTR = sync.OnceValues(func() (*AFTR, [2][][]byte) {
	d := &discard{}
	cfg := AFTRConfig{TunnelEndpoint: aftrAddr, Pools: []netip.Prefix{netip.MustParsePrefix("198.51.96.0/22")},
		PortBlockSize: 64, MaxSessions: 1 << 21}
	a, err := NewAFTR(cfg, d, t0)
	if err != nil {
		panic(err)
	}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	for i := range benchB4s {
		b4 := benchB4(i)
		for j := range benchPerB4 {
			a.FromB4(encap6(b4, aftrAddr, udpOut(host, uint16(10000+j))))
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	benchBytesPerSession = float64(ms1.HeapAlloc-ms0.HeapAlloc) / float64(a.Sessions())
	var tpl [2][][]byte
	for k := range benchTemplate {
		i, j := (k*7919)%benchB4s, k%benchPerB4
		b4 := benchB4(i)
		tpl[0] = append(tpl[0], encap6(b4, aftrAddr, udpOut(host, uint16(10000+j))))
		ext, ok := a.Mapping(b4, netip.AddrPortFrom(host, uint16(10000+j)), 17)
		if !ok {
			panic("no mapping")
		}
		tpl[1] = append(tpl[1], pkt4{src: remote, dst: ext.Addr(), proto: 17, sport: 53, dport: ext.Port(), payload: make([]byte, 64)}.bytes())
	}
	return a, tpl
})

var benchBytesPerSession float64

func benchDir(b *testing.B, dir int) {
	a, tpl := benchAFTR()
	if a.Sessions() != benchB4s*benchPerB4 {
		b.Fatalf("%d sessions", a.Sessions())
	}
	buf := make([]byte, 2048)
	created := a.C.SessionsCreated
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t := tpl[dir][i%benchTemplate]
		p := buf[:len(t)]
		copy(p, t) // the receive ring's copy, and the packet is rewritten in place
		if dir == 0 {
			a.FromB4(p)
		} else {
			a.FromInternet(p)
		}
	}
	b.StopTimer()
	if a.C.SessionsCreated != created {
		b.Fatal("benchmark packets created sessions")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
	b.ReportMetric(benchBytesPerSession, "B/session")
}

// BenchmarkAFTRDecapNAT: decapsulation and NAT44 of packets from B4s,
// 100k B4s and 1M sessions.
func BenchmarkAFTRDecapNAT(b *testing.B) { benchDir(b, 0) }

// BenchmarkAFTREncap: NAT44 and encapsulation of packets to B4s.
func BenchmarkAFTREncap(b *testing.B) { benchDir(b, 1) }

// BenchmarkAFTRNewSessions: creation of NAT sessions (port allocation,
// both maps, the wheel) spread over 100k B4s.
func BenchmarkAFTRNewSessions(b *testing.B) {
	d := &discard{}
	cfg := AFTRConfig{TunnelEndpoint: aftrAddr, Pools: []netip.Prefix{netip.MustParsePrefix("198.51.96.0/22")},
		PortBlockSize: 64, MaxSessions: 1 << 24, MaxSessionsPerB4: 1 << 20, MaxPortsPerB4: 65535}
	a, err := NewAFTR(cfg, d, t0)
	if err != nil {
		b.Fatal(err)
	}
	tpl := make([][]byte, 0, 1024)
	for j := range 1024 {
		tpl = append(tpl, encap6(b4A, aftrAddr, udpOut(host, uint16(1000+j))))
	}
	buf := make([]byte, 2048)
	b4s := make([][16]byte, benchB4s)
	for i := range b4s {
		b4s[i] = benchB4(i).As16()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t := tpl[(i/benchB4s)%1024]
		p := buf[:len(t)]
		copy(p, t)
		copy(p[8:24], b4s[i%benchB4s][:])
		a.FromB4(p)
	}
	b.StopTimer()
	if int(a.C.SessionsCreated) != b.N {
		b.Fatalf("%d sessions for %d packets (%+v)", a.C.SessionsCreated, b.N, a.C)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkAFTRExpire: the wheel's cost per expired session.
func BenchmarkAFTRExpire(b *testing.B) {
	d := &discard{}
	cfg := AFTRConfig{TunnelEndpoint: aftrAddr, Pools: []netip.Prefix{netip.MustParsePrefix("198.51.96.0/22")},
		PortBlockSize: 64, MaxSessions: 1 << 24, MaxSessionsPerB4: 1 << 20, MaxPortsPerB4: 65535}
	a, _ := NewAFTR(cfg, d, t0)
	for i := range b.N {
		a.FromB4(encap6(benchB4(i%benchB4s), aftrAddr, udpOut(host, uint16(1000+i/benchB4s))))
	}
	b.ReportAllocs()
	b.ResetTimer()
	a.Advance(t0.Add(time.Hour))
	b.StopTimer()
	if a.Sessions() != 0 {
		b.Fatalf("%d left", a.Sessions())
	}
}
