package softwire

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// linkStat reads one counter of an interface in a namespace.
func linkStat(t *testing.T, ns *netns.NS, dev, name string) uint64 {
	t.Helper()
	out := ns.Must(t, "cat", "/sys/class/net/"+dev+"/statistics/"+name)
	v, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("%s %s: %v", dev, name, err)
	}
	return v
}

// TestLiveTrafgenWorkers: netsniff-ng's trafgen in one namespace sends a
// bounded number of IPv4 frames to 32 softwires through an lwAFTR of two
// workers (each with its own AF_PACKET rings, members of one
// PACKET_FANOUT group per device) in the next namespace, and a counting
// sink in the third receives the encapsulated frames. Every frame sent
// is accounted for: forwarded to the sink, or dropped with a cause
// (veth backlog, receive ring, engine counter by cause, transmit ring).
func TestLiveTrafgenWorkers(t *testing.T) {
	trafgen := testenv.Tool(t, "trafgen", "netsniff-ng")
	nsGen, nsLw, nsSink := netns.New(t, "gen"), netns.New(t, "lw"), netns.New(t, "sink")
	genIf, lwe, lwi, sinkIf := netns.Unique("gen"), netns.Unique("lwe"), netns.Unique("lwi"), netns.Unique("snk")
	for _, ns := range []*netns.NS{nsGen, nsLw, nsSink} {
		ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	netns.Veth(t, nsGen, genIf, nsLw, lwe)
	netns.Veth(t, nsLw, lwi, nsSink, sinkIf)
	genMAC, _ := net.ParseMAC(macIn(t, nsGen, genIf))
	sinkMAC, _ := net.ParseMAC(macIn(t, nsSink, sinkIf))

	cfg := lwaftr.Config{External: lwaftr.DefaultSide(true), Internal: lwaftr.DefaultSide(false), Hairpinning: true}
	cfg.External.IP, cfg.External.MAC = []byte{10, 10, 10, 10}, [6]byte{0x12, 0x12, 0x12, 0x12, 0x12, 0x12}
	cfg.External.NextHopMAC, cfg.External.NextHopMACSet = [6]byte(genMAC), true
	cfg.Internal.IP, cfg.Internal.MAC = net.ParseIP("8:9:a:b:c:d:e:f").To16(), [6]byte{0x22, 0x22, 0x22, 0x22, 0x22, 0x22}
	cfg.Internal.NextHopMAC, cfg.Internal.NextHopMACSet = [6]byte(sinkMAC), true
	var bindings []lwaftr.Binding
	for i := 1; i <= 32; i++ {
		b := lwaftr.Binding{IPv4: 0xc0000200 | uint32(i), BR: [16]byte(cfg.Internal.IP)}
		copy(b.B4[:], net.ParseIP(fmt.Sprintf("2001:db8::%x", i)).To16())
		bindings = append(bindings, b)
	}
	bt, err := lwaftr.NewTable(bindings)
	if err != nil {
		t.Fatal(err)
	}

	const workers = 2
	group := uint16(os.Getpid())
	var links [][2]Link
	for range workers {
		var ls [2]Link
		for i, dev := range []string{lwe, lwi} {
			var p pktio.Port
			if err := nsLw.Do(func() (err error) {
				p, err = pktio.Open(dev, pktio.Config{FanoutGroup: group + uint16(i), MaxFrame: 1600})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			ls[i] = p
		}
		links = append(links, ls)
	}
	r, err := startWorkers(slog.New(slog.DiscardHandler), cfg, bt, links)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	var sink pktio.Port
	if err := nsSink.Do(func() (err error) { sink, err = pktio.Open(sinkIf, pktio.Config{MaxFrame: 1600}); return err }); err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	counted := make(chan uint64)
	stopSink := make(chan struct{})
	go func() {
		b := pktio.NewBatch(pktio.DefaultBatch)
		var n uint64
		for {
			select {
			case <-stopSink:
				counted <- n
				return
			default:
			}
			if err := sink.Receive(b); err != nil {
				counted <- n
				return
			}
			for _, f := range b.Frames {
				// The encapsulated frames: IPv6, IPv4 inside, to 2001:db8::/32.
				if len(f) >= 54 && f[12] == 0x86 && f[13] == 0xdd && f[20] == 4 && f[38] == 0x20 && f[39] == 0x01 {
					n++
				}
			}
			sink.Release(b)
		}
	}()

	// 60-byte frames: IPv4 UDP from 198.51.100.7 to 192.0.2.1-32.
	conf := fmt.Sprintf(`{
  0x12, 0x12, 0x12, 0x12, 0x12, 0x12,
  %s,
  0x08, 0x00,
  0x45, 0x00, 0x00, 0x2e, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, csumip(14, 33),
  198, 51, 100, 7,
  192, 0, 2, dinc(1, 32),
  0x04, 0xd2, 0x00, 0x50, 0x00, 0x1a, 0x00, 0x00,
  fill(0x41, 18),
}`, macBytes(genMAC))
	confFile := t.TempDir() + "/udp.cfg"
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	const total = 200000
	txBefore := linkStat(t, nsGen, genIf, "tx_packets")
	start := time.Now()
	args := []string{"60", trafgen, "--dev", genIf, "--conf", confFile, "-n", strconv.Itoa(total), "--cpus", "1", "--no-sock-mem", "--notouch-irq"}
	if rate := os.Getenv("WIREBEAT_TRAFGEN_RATE"); rate != "" {
		// For the loss curve in the closing notes: e.g. 100000pps.
		args = append(args, "--rate", rate)
	}
	out, err := nsGen.Command("timeout", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("trafgen: %v\n%s", err, out)
	}
	genTime := time.Since(start)

	// Wait until the data plane is quiet: counters unchanged for 300 ms
	// (bounded at 10 s).
	var snap snapshot
	for last, i := uint64(1<<63), 0; i < 100; i++ {
		snap = r.snapshot()
		if snap.C.InFrames[lwaftr.External] == last {
			break
		}
		last = snap.C.InFrames[lwaftr.External]
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	close(stopSink)
	sinkGot := <-counted
	snap = r.snapshot()

	sent := linkStat(t, nsGen, genIf, "tx_packets") - txBefore
	vethDrops := linkStat(t, nsGen, genIf, "tx_dropped") + linkStat(t, nsLw, lwe, "rx_dropped") +
		linkStat(t, nsLw, lwi, "tx_dropped") + linkStat(t, nsSink, sinkIf, "rx_dropped")
	ext, in := snap.Ports[lwaftr.External], snap.Ports[lwaftr.Internal]
	c := &snap.C
	engineDrops := c.DropMalformed[0] + c.DropBadVLAN[0] + c.DropMisplaced[0] + c.DropInByFilter[0] + c.DropNoBinding4 +
		c.DropTTLZero + c.DropTooBig + c.DropFragments[0] + c.DropNoNextHopMAC[1] + c.DropOutByFilter[1] + c.DropICMPPolicy[0] + c.DropBadChecksum[0]
	sinkStats := sink.Stats()
	t.Logf("trafgen: %d frames in %v (%.2f Mpps offered); %d workers", sent, genTime, float64(sent)/genTime.Seconds()/1e6, snap.Workers)
	t.Logf("lwAFTR rx %d (kernel ring drops %d), engine in %d, encap %d, engine drops %d, tx %d (tx drops %d); veth drops %d; sink %d (ring drops %d)",
		ext.RxFrames, ext.RxKernelDrops, c.InFrames[0], c.EncapPackets, engineDrops, in.TxFrames, in.TxDrops, vethDrops, sinkGot, sinkStats.RxKernelDrops)
	perWorker := make([]uint64, workers)
	for i, w := range r.workers {
		reply := make(chan workerSnap, 1)
		w.counters <- reply
		perWorker[i] = (<-reply).C.InFrames[lwaftr.External]
	}
	t.Logf("frames per worker: %v", perWorker)

	if sent != total {
		t.Errorf("trafgen sent %d frames, asked for %d", sent, total)
	}
	// Stage by stage: nothing vanishes without a counter saying why.
	if got := ext.RxFrames + ext.RxKernelDrops + linkStat(t, nsGen, genIf, "tx_dropped") + linkStat(t, nsLw, lwe, "rx_dropped"); got != sent {
		t.Errorf("received %d + dropped before the engine %d != sent %d", ext.RxFrames, got-ext.RxFrames, sent)
	}
	if c.InFrames[0] != ext.RxFrames {
		t.Errorf("engine saw %d frames, the ports delivered %d", c.InFrames[0], ext.RxFrames)
	}
	if c.EncapPackets+engineDrops != c.InFrames[0] {
		t.Errorf("engine: %d encapsulated + %d dropped != %d in", c.EncapPackets, engineDrops, c.InFrames[0])
	}
	if in.TxFrames+in.TxDrops != c.EncapPackets {
		t.Errorf("transmitted %d + refused %d != encapsulated %d", in.TxFrames, in.TxDrops, c.EncapPackets)
	}
	if sinkGot+sinkStats.RxKernelDrops+linkStat(t, nsLw, lwi, "tx_dropped")+linkStat(t, nsSink, sinkIf, "rx_dropped") != in.TxFrames {
		t.Errorf("sink counted %d (+%d ring drops, veth drops) of %d transmitted", sinkGot, sinkStats.RxKernelDrops, in.TxFrames)
	}
	if sinkGot == 0 {
		t.Error("nothing forwarded")
	}
	for i, n := range perWorker {
		if n == 0 {
			t.Errorf("worker %d got no frames: the fanout did not spread the flows", i)
		}
	}
}

func macBytes(m net.HardwareAddr) string {
	var b []string
	for _, x := range m {
		b = append(b, fmt.Sprintf("0x%02x", x))
	}
	return strings.Join(b, ", ")
}

// TestLivePacketIOState: packet-io/driver chooses each side's driver
// through the configuration, and packet-io/state says which one runs and
// why: the internal side gets AF_XDP; the external side asks for it on a
// device whose queue another AF_XDP socket already holds, so it falls
// back to AF_PACKET and the state gives the reason.
func TestLivePacketIOState(t *testing.T) {
	nsA, nsLw := netns.New(t, "pa"), netns.New(t, "lw")
	aIf, lwe, bIf, lwi := netns.Unique("pa"), netns.Unique("lwe"), netns.Unique("pb"), netns.Unique("lwi")
	netns.Veth(t, nsA, aIf, nsLw, lwe)
	netns.Veth(t, nsA, bIf, nsLw, lwi)
	var squatter pktio.Port
	if err := nsLw.Do(func() (err error) {
		squatter, err = pktio.Open(lwe, pktio.Config{Driver: pktio.DriverAFXDP})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	if squatter.Driver() != pktio.DriverAFXDP {
		t.Fatalf("squatter: %s (%s)", squatter.Driver(), squatter.Fallback())
	}
	cfg := fmt.Sprintf(`{"wirebeat-softwire:softwire": {"lwaftr": {
  "enabled": true,
  "external-interface": {"device": %q, "ip": "10.10.10.10", "mac": "12:12:12:12:12:12", "next-hop": {"mac": "02:00:00:00:00:01"}, "packet-io": {"driver": "af-xdp"}},
  "internal-interface": {"device": %q, "ip": "8:9:a:b:c:d:e:f", "mac": "22:22:22:22:22:22", "next-hop": {"mac": "02:00:00:00:00:02"}, "packet-io": {"driver": "af-xdp"}},
  "binding-table": {"softwire": [
    {"ipv4": "192.0.2.1", "psid": 1, "b4-ipv6": "2001:db8::1", "br-address": "8:9:a:b:c:d:e:f", "port-set": {"psid-length": 6}}
  ]}}}}`, lwe, lwi)
	sub := NewLwaftrSubsystem(LwaftrOptions{OpenDriver: func(dev, driver string, _, _ int) (Link, error) {
		var p pktio.Port
		err := nsLw.Do(func() (err error) { p, err = pktio.Open(dev, pktio.Config{Driver: driver}); return err })
		return p, err
	}})
	srv, err := server.New(server.Options{DataDir: t.TempDir(), Initial: []byte(cfg), Subsystems: []server.Subsystem{sub},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	st, err := srv.State(nil)
	if err != nil {
		t.Fatal(err)
	}
	lw := st.GetSoftwire().GetLwaftr()
	ext := lw.GetExternalInterface().GetPacketIo().GetState()
	in := lw.GetInternalInterface().GetPacketIo().GetState()
	t.Logf("external: %s (%s); internal: %s", ext.GetActiveDriver(), ext.GetFallbackReason(), in.GetActiveDriver())
	if ext.GetActiveDriver() != pktio.DriverAFPacket || !strings.Contains(ext.GetFallbackReason(), "af_xdp unavailable") {
		t.Errorf("external: active %q, fallback %q; want af_packet with the reason", ext.GetActiveDriver(), ext.GetFallbackReason())
	}
	if in.GetActiveDriver() != pktio.DriverAFXDP || in.FallbackReason != nil {
		t.Errorf("internal: active %q, fallback %q; want af_xdp", in.GetActiveDriver(), in.GetFallbackReason())
	}
	if in.RxPackets == nil || in.TxPackets == nil || in.RingFull == nil || ext.RxDrops == nil {
		t.Errorf("counters missing: %+v %+v", in, ext)
	}
}

// TestLiveWorkersFromConfig: lwaftr/workers 2 runs two workers, each
// with its own AF_PACKET rings in one fanout group per device; frames of
// many flows spread over both, and the tree's counters are their sum.
func TestLiveWorkersFromConfig(t *testing.T) {
	nsP, nsLw := netns.New(t, "pw"), netns.New(t, "lw")
	pe, lwe, pi, lwi := netns.Unique("pe"), netns.Unique("lwe"), netns.Unique("pi"), netns.Unique("lwi")
	for _, ns := range []*netns.NS{nsP, nsLw} {
		ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	netns.Veth(t, nsP, pe, nsLw, lwe)
	netns.Veth(t, nsP, pi, nsLw, lwi)
	var bs []string
	for i := 1; i <= 64; i++ {
		bs = append(bs, fmt.Sprintf(`{"ipv4": "192.0.2.%d", "psid": 0, "b4-ipv6": "2001:db8::%x", "br-address": "8:9:a:b:c:d:e:f", "port-set": {"psid-length": 0}}`, i, i))
	}
	cfg := fmt.Sprintf(`{"wirebeat-softwire:softwire": {"lwaftr": {
  "enabled": true, "workers": 2,
  "external-interface": {"device": %q, "ip": "10.10.10.10", "mac": "12:12:12:12:12:12", "next-hop": {"mac": "02:00:00:00:00:01"}},
  "internal-interface": {"device": %q, "ip": "8:9:a:b:c:d:e:f", "mac": "22:22:22:22:22:22", "next-hop": {"mac": "02:00:00:00:00:02"}},
  "binding-table": {"softwire": [%s]}}}}`, lwe, lwi, strings.Join(bs, ",\n"))
	sub := NewLwaftrSubsystem(LwaftrOptions{OpenDriver: func(dev, driver string, w, n int) (Link, error) {
		var p pktio.Port
		err := nsLw.Do(func() (err error) {
			p, err = pktio.Open(dev, pktio.Config{Driver: driver, Queue: w, Fanout: n > 1})
			return err
		})
		return p, err
	}})
	srv, err := server.New(server.Options{DataDir: t.TempDir(), Initial: []byte(cfg), Subsystems: []server.Subsystem{sub},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var src pktio.Port
	if err := nsP.Do(func() (err error) { src, err = pktio.Open(pe, pktio.Config{}); return err }); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	const n = 4096
	f := make([]byte, 60)
	copy(f, []byte{0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 7, 192, 0, 2, 0})
	for i := range n {
		f[33] = byte(1 + i%64)
		binary.BigEndian.PutUint16(f[34:], uint16(1000+i%251))
		binary.BigEndian.PutUint16(f[36:], 53)
		fixIPv4Checksum(f[14:34])
		if !src.Send(f) {
			t.Fatal("send refused")
		}
		if i%64 == 63 {
			_ = src.Flush()
			time.Sleep(200 * time.Microsecond) // a pace the rings keep up with on a busy machine
		}
	}
	_ = src.Flush()
	var encap uint64
	for i := 0; i < 200; i++ {
		st, err := srv.State(nil)
		if err != nil {
			t.Fatal(err)
		}
		lw := st.GetSoftwire().GetLwaftr()
		encap = lw.GetCounters().GetSentIpv6Packets()
		rx := lw.GetExternalInterface().GetPacketIo().GetState().GetRxPackets()
		drops := lw.GetExternalInterface().GetPacketIo().GetState().GetRxDrops()
		if rx+drops >= n {
			t.Logf("external: rx %d, drops %d; sent IPv6 (encapsulated) %d", rx, drops, encap)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sub.mu.Lock()
	r := sub.run
	sub.mu.Unlock()
	if len(r.workers) != 2 {
		t.Fatalf("%d workers running, want 2", len(r.workers))
	}
	for i, w := range r.workers {
		reply := make(chan workerSnap, 1)
		w.counters <- reply
		c := (<-reply).C
		t.Logf("worker %d: %d frames in", i, c.InFrames[lwaftr.External])
		if c.InFrames[lwaftr.External] == 0 {
			t.Errorf("worker %d got nothing: the fanout group does not spread", i)
		}
	}
	if encap == 0 {
		t.Fatal("nothing encapsulated")
	}
}
