package softwire

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// openIn opens a pktio port on dev inside namespace ns with the default
// driver (AF_PACKET).
func openIn(ns *netns.NS, dev string) (pktio.Port, error) { return openDriverIn(ns, dev, "") }

// openDriverIn opens a pktio port with the named driver.
func openDriverIn(ns *netns.NS, dev, driver string) (pktio.Port, error) {
	var p pktio.Port
	err := ns.Do(func() (err error) {
		p, err = pktio.Open(dev, pktio.Config{Driver: driver})
		return err
	})
	return p, err
}

func macIn(t *testing.T, ns *netns.NS, dev string) string {
	out, err := exec.Command("ip", "-n", ns.Name, "-o", "link", "show", dev).Output()
	if err != nil {
		t.Fatalf("link show %s: %v", dev, err)
	}
	f := strings.Fields(string(out))
	for i, w := range f {
		if w == "link/ether" && i+1 < len(f) {
			return f[i+1]
		}
	}
	t.Fatalf("no MAC for %s in %q", dev, out)
	return ""
}

// expect reads frames from l until one satisfies match; other frames
// (the kernel's own chatter) are skipped. It gives up after a bounded
// number of reads.
func expect(t *testing.T, l pktio.Port, what string, match func([]byte) bool) []byte {
	t.Helper()
	bufs := [][]byte{make([]byte, 2048)}
	lens := []int{0}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n, err := l.ReadBatch(bufs, lens)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 && match(bufs[0][:lens[0]]) {
			return append([]byte(nil), bufs[0][:lens[0]]...)
		}
	}
	t.Fatalf("%s: no such frame arrived", what)
	return nil
}

// TestLiveForwarding runs the lwAFTR subsystem on pktio ports
// between a B4 namespace and an Internet namespace (veth pairs into a
// third namespace holding the lwAFTR's interfaces) and checks, on the far
// side each time, encapsulation, decapsulation and hairpinning. Traffic is
// made by our own generator on raw sockets in the B4 and Internet
// namespaces.
func TestLiveForwarding(t *testing.T) {
	nsB4, nsInet, nsLw := netns.New(t, "b4"), netns.New(t, "inet"), netns.New(t, "lw")
	b4If, lwi, inetIf, lwe := netns.Unique("b4"), netns.Unique("lwi"), netns.Unique("inet"), netns.Unique("lwe")
	for _, ns := range []*netns.NS{nsB4, nsInet, nsLw} {
		// No IPv6 on these links: the only traffic is ours. Offloads
		// stay at the veth defaults.
		ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	netns.Veth(t, nsB4, b4If, nsLw, lwi)
	netns.Veth(t, nsInet, inetIf, nsLw, lwe)
	b4MAC, inetMAC := macIn(t, nsB4, b4If), macIn(t, nsInet, inetIf)

	cfg := fmt.Sprintf(`{"wirebeat-softwire:softwire": {"lwaftr": {
  "enabled": true,
  "external-interface": {"device": %q, "ip": "10.10.10.10", "mac": "12:12:12:12:12:12", "next-hop": {"ip": "198.51.100.1"}},
  "internal-interface": {"device": %q, "ip": "8:9:a:b:c:d:e:f", "mac": "22:22:22:22:22:22", "next-hop": {"mac": %q}},
  "binding-table": {"softwire": [
    {"ipv4": "192.0.2.1", "psid": 1, "b4-ipv6": "2001:db8::1", "br-address": "8:9:a:b:c:d:e:f", "port-set": {"psid-length": 6}},
    {"ipv4": "192.0.2.1", "psid": 2, "b4-ipv6": "2001:db8::2", "br-address": "8:9:a:b:c:d:e:f", "port-set": {"psid-length": 6}}
  ]}}}}`, lwe, lwi, b4MAC)
	sub := NewLwaftrSubsystem(LwaftrOptions{Open: func(dev string) (Link, error) { return openIn(nsLw, dev) }})
	srv, err := server.New(server.Options{DataDir: t.TempDir(), Initial: []byte(cfg), Subsystems: []server.Subsystem{sub},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	b4, err := openIn(nsB4, b4If)
	if err != nil {
		t.Fatal(err)
	}
	defer b4.Close()
	inet, err := openIn(nsInet, inetIf)
	if err != nil {
		t.Fatal(err)
	}
	defer inet.Close()

	addr := [4]byte{192, 0, 2, 1}
	port := func(psid uint16) uint16 { return psid<<10 | 5 }
	br := net.ParseIP("8:9:a:b:c:d:e:f").To16()
	b4Addr := func(n byte) []byte { a := net.ParseIP("2001:db8::").To16(); a[15] = n; return a }

	// Internet → B4 (encapsulation).
	in4 := tcpTo(addr, port(2))
	copy(in4[0:6], []byte{0x12, 0x12, 0x12, 0x12, 0x12, 0x12})
	if err := inet.Write(in4); err != nil {
		t.Fatal(err)
	}
	got := expect(t, b4, "encapsulated packet for 2001:db8::2", func(f []byte) bool {
		return len(f) >= 54 && binary.BigEndian.Uint16(f[12:]) == 0x86dd && bytes.Equal(f[38:54], b4Addr(2))
	})
	if !bytes.Equal(got[22:38], br) || got[20] != 4 || !bytes.Equal(got[54+12:54+20], in4[14+12:14+20]) || got[54+8] != 63 {
		t.Fatalf("encapsulation wrong: % x", got)
	}

	// The external next hop is known by address only: the lwAFTR asks
	// for it with ARP, the Internet side answers, and the answer is used.
	req := expect(t, inet, "ARP request for the next hop", func(f []byte) bool {
		return len(f) >= 42 && binary.BigEndian.Uint16(f[12:]) == 0x0806 && binary.BigEndian.Uint16(f[20:]) == 1 &&
			bytes.Equal(f[38:42], []byte{198, 51, 100, 1})
	})
	hw, _ := net.ParseMAC(inetMAC)
	reply := make([]byte, 42)
	copy(reply[0:6], req[6:12])
	copy(reply[6:12], hw)
	binary.BigEndian.PutUint16(reply[12:], 0x0806)
	copy(reply[14:20], []byte{0, 1, 8, 0, 6, 4})
	binary.BigEndian.PutUint16(reply[20:], 2)
	copy(reply[22:28], hw)
	copy(reply[28:32], []byte{198, 51, 100, 1})
	copy(reply[32:38], req[22:28])
	copy(reply[38:42], req[28:32])
	if err := inet.Write(reply); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ { // the reply is processed in the engine's own time
		st, err := srv.State(nil)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.GetSoftwire().GetLwaftr().GetExternalInterface().GetNextHop().GetResolvedMac(); m == inetMAC {
			break
		}
		if i == 500 {
			t.Fatal("next hop MAC not learnt from the ARP reply")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// B4 → Internet (decapsulation with the binding check).
	v4 := tcpTo([4]byte{198, 51, 100, 7}, 80)
	copy(v4[14+12:14+16], addr[:])
	binary.BigEndian.PutUint16(v4[14+20:], port(1))
	binary.BigEndian.PutUint16(v4[14+22:], 443)
	fixIPv4Checksum(v4[14:34])
	out6 := encapFrame(v4[14:], b4Addr(1), br)
	if err := b4.Write(out6); err != nil {
		t.Fatal(err)
	}
	got = expect(t, inet, "decapsulated packet", func(f []byte) bool {
		return len(f) >= 34 && binary.BigEndian.Uint16(f[12:]) == 0x0800 && bytes.Equal(f[26:30], addr[:])
	})
	if !bytes.Equal(got[14:], v4[14:]) || net.HardwareAddr(got[0:6]).String() != inetMAC {
		t.Fatalf("decapsulation wrong: % x", got)
	}

	// B4 → B4 (hairpinning): psid 1 sends to psid 2's port.
	hp := tcpTo(addr, port(2))
	copy(hp[14+12:14+16], addr[:])
	binary.BigEndian.PutUint16(hp[14+20:], port(1))
	fixIPv4Checksum(hp[14:34])
	if err := b4.Write(encapFrame(hp[14:], b4Addr(1), br)); err != nil {
		t.Fatal(err)
	}
	expect(t, b4, "hairpinned packet for 2001:db8::2", func(f []byte) bool {
		return len(f) >= 54 && binary.BigEndian.Uint16(f[12:]) == 0x86dd && bytes.Equal(f[38:54], b4Addr(2)) &&
			binary.BigEndian.Uint16(f[54+20:]) == port(1)
	})
	st, err := srv.State(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.GetSoftwire().GetLwaftr().GetCounters(); c.GetHairpinIpv4Packets() != 1 {
		t.Fatalf("hairpin-ipv4-packets = %d, want 1", c.GetHairpinIpv4Packets())
	}
}

func fixIPv4Checksum(h []byte) {
	h[10], h[11] = 0, 0
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
}

// encapFrame wraps an IPv4 packet in IPv6 from src to dst, in a frame to
// the lwAFTR's internal MAC.
func encapFrame(v4, src, dst []byte) []byte {
	f := make([]byte, 54+len(v4))
	copy(f[0:6], []byte{0x22, 0x22, 0x22, 0x22, 0x22, 0x22})
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	f[14] = 0x60
	binary.BigEndian.PutUint16(f[18:], uint16(len(v4)))
	f[20], f[21] = 4, 64
	copy(f[22:38], src)
	copy(f[38:54], dst)
	copy(f[54:], v4)
	return f
}

// TestLiveTCPWithOffloads moves real TCP through the lwAFTR with the
// veths' offloads at their defaults (checksum offload, TSO/GSO): a Go
// HTTP server in the Internet namespace and curl in the B4 namespace,
// whose kernel is the B4 (an ip6tnl ipip6 tunnel to the BR address, with
// curl bound to the softwire's port range). The download crosses the
// lwAFTR's encapsulation as GSO super-frames with partial checksums, the
// upload its decapsulation with partial inner checksums; both must
// arrive intact. It runs on both drivers: AF_PACKET finishes what the
// vnet header says is left; AF_XDP on veth gets no GSO (the kernel turns
// it off on the peer while XDP is attached) and no metadata, and repairs
// the partial checksums it recognises.
func TestLiveTCPWithOffloads(t *testing.T) {
	for _, drv := range []string{pktio.DriverAFPacket, pktio.DriverAFXDP} {
		t.Run(drv, func(t *testing.T) { testLiveTCP(t, drv) })
	}
}

func testLiveTCP(t *testing.T, driver string) {
	curl := testenv.Tool(t, "curl", "curl")
	nsB4, nsInet, nsLw := netns.New(t, "b4"), netns.New(t, "inet"), netns.New(t, "lw")
	b4If, lwi, inetIf, lwe := netns.Unique("b4"), netns.Unique("lwi"), netns.Unique("inet"), netns.Unique("lwe")
	netns.Veth(t, nsB4, b4If, nsLw, lwi)
	netns.Veth(t, nsInet, inetIf, nsLw, lwe)
	nsLw.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	b4MAC := macIn(t, nsB4, b4If)
	if out, err := nsInet.Command("ethtool", "-k", inetIf).CombinedOutput(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "tcp-segmentation-offload:") || strings.Contains(l, "tx-checksumming:") {
				t.Logf("%s %s", inetIf, strings.TrimSpace(l))
			}
		}
	}

	// The Internet side reaches 192.0.2.0/24 through the lwAFTR.
	nsInet.Addr(t, inetIf, "198.51.100.1/24")
	nsInet.Must(t, "ip", "neigh", "add", "10.10.10.10", "lladdr", "12:12:12:12:12:12", "dev", inetIf)
	nsInet.Must(t, "ip", "route", "add", "192.0.2.0/24", "via", "10.10.10.10", "dev", inetIf, "onlink")
	// The B4 is the kernel's SRv6 H.Encaps.Red (RFC 8986 §5.2 with one
	// segment and no SRH: plain IPv4-in-IPv6 to the BR, exactly lw4o6's
	// encapsulation) and End.DX4 for the way back, which decapsulates
	// IPv4 sent to the B4's IPv6 address. 192.0.2.1 is local on lo.
	nsB4.Addr(t, b4If, "2001:db8::ff/64")
	nsB4.Addr(t, "lo", "192.0.2.1/32")
	nsB4.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	nsB4.Must(t, "ip", "sr", "tunsrc", "set", "2001:db8::1")
	nsB4.Must(t, "ip", "-6", "neigh", "add", "8:9:a:b:c:d:e:f", "lladdr", "22:22:22:22:22:22", "dev", b4If)
	nsB4.Must(t, "ip", "-6", "route", "add", "8:9:a:b:c:d:e:f/128", "dev", b4If)
	nsB4.Must(t, "ip", "route", "add", "198.51.100.0/24", "encap", "seg6", "mode", "encap.red", "segs", "8:9:a:b:c:d:e:f",
		"dev", b4If, "src", "192.0.2.1")
	nsB4.Must(t, "ip", "-6", "route", "add", "2001:db8::1/128", "encap", "seg6local", "action", "End.DX4", "nh4", "0.0.0.0", "dev", b4If)

	cfg := fmt.Sprintf(`{"wirebeat-softwire:softwire": {"lwaftr": {
  "enabled": true,
  "external-interface": {"device": %q, "ip": "10.10.10.10", "mac": "12:12:12:12:12:12", "mtu": 1500, "next-hop": {"ip": "198.51.100.1"}},
  "internal-interface": {"device": %q, "ip": "8:9:a:b:c:d:e:f", "mac": "22:22:22:22:22:22", "mtu": 1500, "next-hop": {"mac": %q}},
  "binding-table": {"softwire": [
    {"ipv4": "192.0.2.1", "psid": 1, "b4-ipv6": "2001:db8::1", "br-address": "8:9:a:b:c:d:e:f", "port-set": {"psid-length": 6}}
  ]}}}}`, lwe, lwi, b4MAC)
	sub := NewLwaftrSubsystem(LwaftrOptions{Open: func(dev string) (Link, error) {
		p, err := openDriverIn(nsLw, dev, driver)
		if err == nil && p.Driver() != driver {
			p.Close()
			return nil, fmt.Errorf("driver %s instead of %s: %s", p.Driver(), driver, p.Fallback())
		}
		return p, err
	}})
	srv, err := server.New(server.Options{DataDir: t.TempDir(), Initial: []byte(cfg), Subsystems: []server.Subsystem{sub},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	blob := make([]byte, 8<<20)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range blob {
		blob[i] = byte(rnd.Uint32())
	}
	var ln net.Listener
	if err := nsInet.Do(func() (err error) { ln, err = net.Listen("tcp4", "198.51.100.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
		_, _ = w.Write(blob)
	})}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/blob"

	// Wait until the lwAFTR has learnt its external next hop (ARP).
	for i := 0; ; i++ {
		st, err := srv.State(nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.GetSoftwire().GetLwaftr().GetExternalInterface().GetNextHop().GetResolvedMac() != "" {
			break
		}
		if i == 500 {
			t.Fatal("external next hop not resolved")
		}
		time.Sleep(10 * time.Millisecond)
	}

	defer func() {
		if t.Failed() {
			portStatsOf(t, sub)
		}
	}()
	dir := t.TempDir()
	down := dir + "/down"
	// psid 1 of a 6-bit split owns ports 1024-2047.
	if out, err := nsB4.Command(curl, "-sS", "--max-time", "30", "--local-port", "1024-2047", "-o", down, url).CombinedOutput(); err != nil {
		t.Fatalf("download through the lwAFTR: %v\n%s", err, out)
	}
	got, err := os.ReadFile(down)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, blob) {
		t.Fatalf("download: %d bytes arrived, %d sent, equal=%v", len(got), len(blob), bytes.Equal(got, blob))
	}
	out, err := nsB4.Command(curl, "-sS", "--max-time", "30", "--local-port", "1024-2047", "-T", down, url).CombinedOutput()
	if err != nil {
		t.Fatalf("upload through the lwAFTR: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("%d %x", len(blob), sha256.Sum256(blob)); string(out) != want {
		t.Fatalf("upload: server saw %q, want %q", out, want)
	}

	ps := portStatsOf(t, sub)
	for i, side := range []string{"external", "internal"} {
		if ps[i].RxBadOffload != 0 || ps[i].RxTruncated != 0 {
			t.Errorf("%s: frames dropped for their offload metadata", side)
		}
	}
	// The traffic really came with work left for the device, and it was
	// done here: without it the transfers above fail.
	if ps[0].RxGSOFrames == 0 && ps[0].RxCsumFinished == 0 {
		t.Errorf("external side: no partial checksum or GSO frame seen; offloads off?")
	}
	if ps[1].RxCsumFinished == 0 && ps[1].RxGSOFrames == 0 {
		t.Errorf("internal side: no partial checksum or GSO frame seen; offloads off?")
	}
}

// portStatsOf logs and returns the packet I/O counters of the running
// lwAFTR's two sides.
func portStatsOf(t *testing.T, sub *LwaftrSubsystem) [2]pktio.Stats {
	t.Helper()
	sub.mu.Lock()
	r := sub.run
	sub.mu.Unlock()
	if r == nil {
		return [2]pktio.Stats{}
	}
	ps, drv := r.portStats()
	for i, side := range []string{"external", "internal"} {
		s := ps[i]
		t.Logf("%s (%s): rx %d frames, tx %d, csum finished %d, GSO %d -> %d segments, drops %d (bad offload %d, truncated %d, kernel %d), tx drops %d, kicks %d",
			side, drv[i], s.RxFrames, s.TxFrames, s.RxCsumFinished, s.RxGSOFrames, s.RxGSOSegments, s.RxDrops, s.RxBadOffload, s.RxTruncated, s.RxKernelDrops, s.TxDrops, s.TxSyscalls)
	}
	snap := r.snapshot()
	t.Logf("engine: %+v", snap.C)
	return ps
}
