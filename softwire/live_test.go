package softwire

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/softwire/afpacket"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// inNetns runs fn on a thread switched into the named network namespace.
// Sockets fn opens stay in that namespace.
func inNetns(name string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + name)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", name, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		panic("cannot return to the original network namespace: " + err.Error())
	}
	return ferr
}

func openIn(ns, dev string) (*afpacket.Link, error) {
	var l *afpacket.Link
	err := inNetns(ns, func() (err error) {
		l, err = afpacket.Open(dev)
		return err
	})
	return l, err
}

func macIn(t *testing.T, ip, ns, dev string) string {
	out, err := exec.Command(ip, "-n", ns, "-o", "link", "show", dev).Output()
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
func expect(t *testing.T, l *afpacket.Link, what string, match func([]byte) bool) []byte {
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

// TestLiveForwarding runs the lwAFTR subsystem on AF_PACKET sockets
// between a B4 namespace and an Internet namespace (veth pairs into a
// third namespace holding the lwAFTR's interfaces) and checks, on the far
// side each time, encapsulation, decapsulation and hairpinning. Traffic is
// made by our own generator on raw sockets in the B4 and Internet
// namespaces.
func TestLiveForwarding(t *testing.T) {
	testenv.RequireRoot(t, "lwAFTR live test with network namespaces")
	ip := testenv.Tool(t, "ip", "iproute2")
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	nsB4, nsInet, nsLw := "wbb4-"+id, "wbinet-"+id, "wblw-"+id
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{nsB4, nsInet, nsLw} {
		run("netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", ns).Run() })
	}
	run("-n", nsB4, "link", "add", "b4", "type", "veth", "peer", "name", "lwi", "netns", nsLw)
	run("-n", nsInet, "link", "add", "inet", "type", "veth", "peer", "name", "lwe", "netns", nsLw)
	for _, l := range [][2]string{{nsB4, "b4"}, {nsInet, "inet"}, {nsLw, "lwi"}, {nsLw, "lwe"}} {
		// No addresses and no IPv6 on these links: the only traffic is ours.
		_ = exec.Command(ip, "netns", "exec", l[0], "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1").Run()
		run("-n", l[0], "link", "set", l[1], "up")
	}
	b4MAC, inetMAC := macIn(t, ip, nsB4, "b4"), macIn(t, ip, nsInet, "inet")

	cfg := fmt.Sprintf(`{"wirebeat-softwire:softwire": {"lwaftr": {
  "enabled": true,
  "external-interface": {"device": "lwe", "ip": "10.10.10.10", "mac": "12:12:12:12:12:12", "next-hop": {"ip": "198.51.100.1"}},
  "internal-interface": {"device": "lwi", "ip": "8:9:a:b:c:d:e:f", "mac": "22:22:22:22:22:22", "next-hop": {"mac": %q}},
  "binding-table": {"softwire": [
    {"ipv4": "192.0.2.1", "psid": 1, "b4-ipv6": "2001:db8::1", "br-address": "8:9:a:b:c:d:e:f", "port-set": {"psid-length": 6}},
    {"ipv4": "192.0.2.1", "psid": 2, "b4-ipv6": "2001:db8::2", "br-address": "8:9:a:b:c:d:e:f", "port-set": {"psid-length": 6}}
  ]}}}}`, b4MAC)
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
	b4, err := openIn(nsB4, "b4")
	if err != nil {
		t.Fatal(err)
	}
	defer b4.Close()
	inet, err := openIn(nsInet, "inet")
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
