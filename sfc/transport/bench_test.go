package transport

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/sfc/node"
	"github.com/wirebeat/wirebeat/sfc/nsh"
)

// BenchmarkSFNodeOverUDP: an SF node (pass-through SF) on a VXLAN-GPE
// socket on loopback, fed in batches by a generator and forwarding to a
// sink: NSH packets per second through the kernel and back, batched both
// ways. Reports delivered packets/s and the share lost (UDP on a loaded
// loopback may drop).
func BenchmarkSFNodeOverUDP(b *testing.B) {
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		b.Fatal(err)
	}
	port := uint16(probe.LocalAddr().(*net.UDPAddr).Port)
	probe.Close()
	sink, err := ListenUDP(UDPConfig{Local: netip.MustParseAddr("127.0.0.2"), Port: port, GPE: true})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	tb, err := node.Build(node.Config{SFNode: true, LocalSF: "fw", BoundaryNodes: []netip.Addr{netip.MustParseAddr("127.0.0.3")},
		SFs: []node.SF{{ID: "fw", Locators: []node.Locator{{Addr: netip.MustParseAddr("127.0.0.1")}}},
			{ID: "dpi", Locators: []node.Locator{{Addr: netip.MustParseAddr("127.0.0.2")}}}},
		Maps: []node.Map{{Index: 10, SFs: []string{"fw", "dpi"}}}})
	if err != nil {
		b.Fatal(err)
	}
	n := node.New(node.Hooks{})
	n.Install(tb)
	sfn, err := ListenUDP(UDPConfig{Local: netip.MustParseAddr("127.0.0.1"), Port: port, GPE: true})
	if err != nil {
		b.Fatal(err)
	}
	defer sfn.Close()
	go func() { _ = sfn.Run(n.NewWorker(udpOut{sfn})) }()
	counter := node.New(node.Hooks{}) // the sink only counts: an empty table drops all as unknown SPI
	go func() { _ = sink.Run(counter.NewWorker(udpOut{})) }()
	gen, err := ListenUDP(UDPConfig{Local: netip.MustParseAddr("127.0.0.3"), Port: port, GPE: true})
	if err != nil {
		b.Fatal(err)
	}
	defer gen.Close()
	h := nsh.Header{TTL: 63, MDType: 1, NextProtocol: nsh.ProtoIPv4, SPI: 10, SI: 255}
	pkt := make([]byte, nsh.MD1Len+100)
	_, _ = h.Encode(pkt)
	pkt[nsh.MD1Len] = 0x45
	to := netip.MustParseAddr("127.0.0.1")
	b.ReportAllocs()
	start := time.Now()
	// At most a window of packets in flight: the benchmark measures what
	// the node forwards, not how fast a socket buffer overflows.
	const window = 1024
	delivered := func() uint64 { return counter.Counters().Drops[node.DropUnknownSPI] }
	for i := 0; i < b.N; i++ {
		gen.SendNSH(to, 0, pkt)
		if i%txBatch == txBatch-1 {
			gen.Flush()
			for wait := time.Now().Add(100 * time.Millisecond); uint64(i)-delivered() > window && time.Now().Before(wait); {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
	gen.Flush()
	deadline := time.Now().Add(2 * time.Second)
	for delivered() < uint64(b.N) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	el := time.Since(start)
	d := delivered()
	b.ReportMetric(float64(d)/el.Seconds(), "pkts/s")
	b.ReportMetric(100*(1-float64(d)/float64(b.N)), "%lost")
}

// udpOut is node.Output over one UDP transport (nil: discard).
type udpOut struct{ u *UDP }

func (o udpOut) SendNSH(to netip.Addr, dscp uint8, pkt []byte) {
	if o.u != nil {
		o.u.SendNSH(to, dscp, pkt)
	}
}
func (udpOut) Route(uint8, []byte)    {}
func (udpOut) ToLegacy(uint8, []byte) {}
