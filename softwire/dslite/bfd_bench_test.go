package dslite

import (
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/bfd"
)

// b4Sim plays many B4s towards one AFTR at the BFD level: each sends its
// packet every interval, answers a Poll with a Final, and learns the
// AFTR's discriminator from its answers.
type b4Sim struct {
	peers    map[[16]byte]*simPeer
	order    []*simPeer
	a        *AFTR
	buf      []byte
	pkt      bfd.Packet
	pollResp []*simPeer
}

type simPeer struct {
	addr  netip.Addr
	my    uint32
	your  uint32
	state bfd.State
}

// SendIPv6 takes the AFTR's packets to the B4s.
func (s *b4Sim) SendIPv6(p []byte) {
	if len(p) < 40+28+bfd.MandatoryLen || p[40+9] != 17 {
		return
	}
	peer := s.peers[[16]byte(p[24:40])]
	if peer == nil {
		return
	}
	var in bfd.Packet
	if in.Decode(p[40+28:], bfd.DecodeOptions{}) != nil {
		return
	}
	peer.your = in.MyDiscriminator
	switch in.State {
	case bfd.StateInit, bfd.StateUp:
		peer.state = bfd.StateUp
	case bfd.StateDown:
		if peer.state == bfd.StateUp {
			peer.state = bfd.StateDown
		}
	}
	if in.Poll {
		s.pollResp = append(s.pollResp, peer)
	}
}
func (s *b4Sim) SendIPv4([]byte) {}

// send makes peer's packet (Final when answering a Poll) arrive at the AFTR.
func (s *b4Sim) send(p *simPeer, final bool) {
	s.pkt = bfd.Packet{State: p.state, Final: final, DetectMult: 3, MyDiscriminator: p.my, YourDiscriminator: p.your,
		DesiredMinTxInterval: 30_000_000, RequiredMinRxInterval: 30_000_000}
	payload := s.pkt.AppendEncode(s.buf[:0])
	src, dst := B4InnerAddress.As4(), AFTRInnerAddress.As4()
	inner := make([]byte, 28+len(payload))
	n := writeBFD(inner, src[:], dst[:], payload)
	s.a.FromB4(encap6(p.addr, aftrAddr, inner[:n]))
}

// BenchmarkAFTRBFDSessions holds DSLITE_BFD_B4S (default 20000) B4s'
// automatic sessions Up on the AFTR at a 30 s interval for 5 simulated
// minutes and reports the false Downs (must be 0), the CPU spent per 1k
// sessions per second of simulated time (the B4 simulator's packet
// building included, so an upper bound for the AFTR), and the memory per
// 1k sessions. The 1M-B4 figure of the issue: DSLITE_BFD_B4S=1000000.
func BenchmarkAFTRBFDSessions(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("DSLITE_BFD_B4S")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		clk := &bfd.ManualClock{T: t0}
		downs := 0
		var m *AFTRBFD
		eng := bfd.NewEngine(bfd.Options{Clock: clk, Seed: 1, OnChange: func(c bfd.Change) {
			if c.Old == bfd.StateUp && c.New != bfd.StateUp {
				downs++
			}
			m.HandleChange(c)
		}})
		tmpl := bfd.SessionConfig{DesiredMinTxInterval: 30_000_000, RequiredMinRxInterval: 30_000_000, DetectMult: 3}
		m, _ = NewAFTRBFD(eng, aftrAddr, AFTRBFDConfig{Template: tmpl, Now: clk.Now, IdleTimeout: time.Hour})
		sim := &b4Sim{peers: map[[16]byte]*simPeer{}, buf: make([]byte, 0, 128)}
		a, err := NewAFTR(AFTRConfig{TunnelEndpoint: aftrAddr, Pools: []netip.Prefix{pool1}, OnBFD: m.Receive}, sim, t0)
		if err != nil {
			b.Fatal(err)
		}
		sim.a = a
		for i := range n {
			p := &simPeer{addr: benchB4(i), my: uint32(i + 1), state: bfd.StateDown}
			sim.peers[p.addr.As16()] = p
			sim.order = append(sim.order, p)
		}
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		step := func(sendAll bool, sec int) {
			clk.Advance(time.Second)
			eng.Advance()
			// Every B4 sends once per 30 s, spread over the interval.
			// Sent in batches of 64 with the service between, as the
			// runner does.
			sent := 0
			for i, p := range sim.order {
				if sendAll || i%30 == sec%30 {
					sim.send(p, false)
					if sent++; sent%64 == 0 {
						m.Service(a, clk.T)
					}
				}
			}
			m.Service(a, clk.T)
			for len(sim.pollResp) > 0 {
				q := sim.pollResp
				sim.pollResp = nil
				for _, p := range q {
					sim.send(p, true)
				}
				m.Service(a, clk.T)
			}
		}
		// Bring every session up: three exchanges.
		for k := range 4 {
			step(true, k)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		up := 0
		m.Each(func(_ netip.Addr, _ time.Time, in bfd.SessionInfo) {
			if in.LocalState == bfd.StateUp {
				up++
			}
		})
		if up != n {
			b.Fatalf("%d of %d sessions up", up, n)
		}
		start := time.Now()
		const minutes = 5
		for s := range minutes * 60 {
			step(false, s)
		}
		cpu := time.Since(start)
		if downs != 0 {
			b.Fatalf("%d false Downs", downs)
		}
		b.ReportMetric(float64(n), "sessions")
		b.ReportMetric(float64(downs), "false-downs")
		b.ReportMetric(float64(cpu.Microseconds())/(minutes*60)/(float64(n)/1000), "µs-CPU/s/1k")
		b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/(float64(n)/1000)/1024, "KiB/1k")
	}
}
