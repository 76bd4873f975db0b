package transport

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/sfc/node"
	"github.com/wirebeat/wirebeat/tools/netns"
)

// TestEtherAgingLinux: the next hop is the Linux kernel in a namespace,
// resolved by real ARP. Its MAC is then changed (an SF replaced by one
// with another MAC; Linux sends no gratuitous ARP for it by default), and
// NSH frames follow the new MAC once the learnt one has aged out and the
// kernel has answered the probe. Without aging they would go to the old
// MAC forever.
func TestEtherAgingLinux(t *testing.T) {
	us, sf := netns.New(t, "agu"), netns.New(t, "ags")
	for _, ns := range []*netns.NS{us, sf} {
		ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	a, b := netns.Unique("aga"), netns.Unique("agb")
	netns.Veth(t, us, a, sf, b)
	us.Addr(t, a, "10.4.0.1/24")
	sf.Addr(t, b, "10.4.0.2/24")
	sf.Must(t, "sysctl", "-qw", "net.ipv4.conf.all.arp_notify=0", "net.ipv4.conf."+b+".arp_notify=0")
	var e *Ether
	var tap pktio.Port
	if err := us.Do(func() (err error) {
		e, err = OpenEther(EtherConfig{Interface: a, Local: netip.MustParseAddr("10.4.0.1"),
			Aging: Aging{Reachable: 300 * time.Millisecond, Retrans: 50 * time.Millisecond, Probes: 2}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if err := sf.Do(func() (err error) {
		tap, err = pktio.Open(b, pktio.Config{PollTimeout: 20 * time.Millisecond})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tap.Close() })
	to := netip.MustParseAddr("10.4.0.2")
	e.SetPeers([]Peer{{Addr: to}})
	done := make(chan error, 1)
	go func() { done <- e.Run(node.New(node.Hooks{}).NewWorker(etherOut{e})) }()
	t.Cleanup(func() { _ = e.Close(); <-done })

	batch := pktio.NewBatch(pktio.DefaultBatch)
	pkt := make([]byte, 8+20) // what the frames carry does not matter here
	// waitFor sends NSH to the next hop until one arrives at mac.
	waitFor := func(mac net.HardwareAddr, what string) (others int) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			e.SendNSH(to, 0, pkt)
			e.Flush()
			err := tap.Receive(batch)
			hit := false
			for _, f := range batch.Frames {
				if len(f) >= EtherLen && binary.BigEndian.Uint16(f[12:]) == EtherTypeNSH {
					if [6]byte(f[0:6]) == [6]byte(mac) {
						hit = true
					} else {
						others++
					}
				}
			}
			tap.Release(batch)
			if err != nil {
				t.Fatal(err)
			}
			if hit {
				return others
			}
		}
		t.Fatalf("no NSH frame reached %s (%s) in 20 s; %d went elsewhere, %d expired, %d unresolved",
			mac, what, others, e.Expired.Load(), e.TxUnresolved.Load())
		return 0
	}
	old, err := net.ParseMAC(sf.MAC(t, b))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(old, "resolved by ARP")
	sf.Must(t, "ip", "link", "set", "dev", b, "address", "02:00:00:00:04:02")
	start := time.Now()
	n := waitFor(net.HardwareAddr{2, 0, 0, 0, 4, 2}, "the new MAC")
	t.Logf("followed the new MAC after %v, %d frames to the old one (reachable 300 ms, retrans 50 ms)", time.Since(start).Round(time.Millisecond), n)
}
