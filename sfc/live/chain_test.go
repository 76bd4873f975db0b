package live

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/wirebeat/wirebeat/tools/element"
)

// send sends n datagrams from the client to the server's port, from
// per-flow sockets when flows > 1 (distinct source ports).
func (d *domain) send(t *testing.T, port, n int, tos int, payload string) {
	t.Helper()
	if tos != 0 {
		_ = ipv4.NewConn(d.client).SetTOS(tos)
		defer func() { _ = ipv4.NewConn(d.client).SetTOS(0) }()
	}
	to := &net.UDPAddr{IP: net.IPv4(192, 168, 20, 2), Port: port}
	for i := range n {
		if _, err := d.client.WriteToUDP([]byte(fmt.Sprintf("%s %d", payload, i)), to); err != nil {
			t.Fatal(err)
		}
	}
}

func waitState(t *testing.T, e *element.Element, what string, ok func(string) bool) string {
	t.Helper()
	end := time.Now().Add(60 * time.Second)
	for {
		x := sfcState(t, e)
		if ok(x) {
			return x
		}
		if time.Now().After(end) {
			t.Fatalf("%s: not reached; state:\n%s\nlog:\n%s", what, x, e.Log())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func nftCounter(t *testing.T, d *domain, port int) int {
	t.Helper()
	out := d.fw.Must(t, "nft", "list", "chain", "inet", "sfcfw", "passing")
	m := regexp.MustCompile(fmt.Sprintf(`udp dport %d counter packets (\d+)`, port)).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("nft counter for %d not in\n%s", port, out)
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// TestChains: two rules take two chains through real elements; the NSH
// on the wire reads right in tshark; scapy-built NSH is forwarded by the
// same rules; loops, SI exhaustion and bad input are dropped and counted;
// losing an SF node moves its flows to the other locator, with a
// notification over NETCONF.
func TestChains(t *testing.T) {
	d := build(t)
	// Both locators of cnt up by S-BFD before traffic.
	waitState(t, d.eb, "S-BFD up to both cnt locators", func(x string) bool {
		return strings.Count(x, "<liveness-state>up</liveness-state>") >= 3 // two locators and the SF
	})

	// Capture the domain segment while the chains run. Bridged frames
	// do not pass br0 itself: listen on the boundary's port, which every
	// NSH packet of these maps crosses once.
	stopCapture := capture(t, d.core, d.bndPort, "udp port 4790")

	d.send(t, 7000, 5, 0, "p7000")
	d.send(t, 7001, 3, 0, "p7001")
	d.send(t, 8000, 5, 0xb8, "p8000")
	d.send(t, 9000, 4, 0, "p9000")
	got := receive(d.received, 5+5+4) // 7001 is dropped by the firewall
	pcap := stopCapture()

	if len(got[7000]) != 5 || len(got[7001]) != 0 || len(got[8000]) != 5 || len(got[9000]) != 4 {
		t.Logf("boundary state: %s", regexp.MustCompile(`(?s)<counters><classified.*?</counters>`).FindString(sfcState(t, d.eb)))
		t.Logf("boundary routes: %s %s", d.bnd.Must(t, "ip", "route", "show", "table", "all"), d.bnd.Must(t, "ip", "-s", "link"))
		t.Fatalf("server received 7000:%d 7001:%d (firewall drops) 8000:%d 9000:%d (bypass)",
			len(got[7000]), len(got[7001]), len(got[8000]), len(got[9000]))
	}
	if nftCounter(t, d, 7000) != 5 || nftCounter(t, d, 7001) != 3 {
		t.Fatalf("firewall counters 7000:%d 7001:%d", nftCounter(t, d, 7000), nftCounter(t, d, 7001))
	}
	bx := sfcState(t, d.eb)
	for leaf, want := range map[string]uint64{"classified-packets": 13, "unclassified-packets": 4, "decapsulated-packets": 10, "local-sf-invocations": 8} {
		if v := counter(t, bx, leaf); v != want {
			t.Errorf("boundary %s = %d, want %d", leaf, v, want)
		}
	}
	for _, c := range []struct{ spi, si, want int }{{10, 255, 8}, {10, 254, 5}, {10, 253, 5}, {20, 255, 5}, {20, 254, 5}} {
		if v := entryPackets(t, bx, c.spi, c.si); v != uint64(c.want) {
			t.Errorf("boundary entry %d/%d: %d packets, want %d", c.spi, c.si, v, c.want)
		}
	}
	x1, x2 := sfcState(t, d.e1), sfcState(t, d.e2)
	if inv := counter(t, x1, "local-sf-invocations") + counter(t, x2, "local-sf-invocations"); inv != 10 {
		t.Errorf("cnt invocations on the SF nodes: %d, want 10", inv)
	}
	if f := counter(t, x1, "forwarded-packets") + counter(t, x2, "forwarded-packets"); f != 10 {
		t.Errorf("SF nodes forwarded %d, want 10", f)
	}

	// What tshark reads on the wire: SPI, SI, MD type, next protocol,
	// the MD type 2 context header the map configures, and the outer
	// DSCP of each NSH packet. (scapy's packets below are MD type 1.)
	out, err := exec.Command("tshark", "-r", pcap, "-T", "fields", "-E", "separator=|",
		"-e", "nsh.spi", "-e", "nsh.si", "-e", "nsh.mdtype", "-e", "nsh.nextproto",
		"-e", "nsh.metadataclass", "-e", "nsh.metadatatype", "-e", "nsh.metadatalen", "-e", "nsh.metadata",
		"-e", "ip.dsfield.dscp", "-e", "udp.dstport").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 10 {
			continue
		}
		dscp := strings.Split(f[8], ",")[0] // the outer header's
		dport := strings.Split(f[9], ",")   // the inner packet's
		key := fmt.Sprintf("%s/%s md%s np%s tlv %s/%s/%s/%s dscp %s to %s", f[0], f[1], f[2], f[3],
			f[4], f[5], f[6], strings.ReplaceAll(f[7], ":", ""), dscp, dport[len(dport)-1])
		seen[key]++
	}
	want := map[string]int{
		"10/254 md2 np1 tlv 258/7/0x03/0a0a0a dscp 0 to 7000":    5,
		"10/253 md2 np1 tlv 258/7/0x03/0a0a0a dscp 0 to 7000":    5,
		"20/255 md2 np1 tlv 258/7/0x04/14141414 dscp 46 to 8000": 5,
		"20/254 md2 np1 tlv 258/7/0x04/14141414 dscp 46 to 8000": 5,
	}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("tshark: %d packets %q, want %d; read:\n%v", seen[k], k, n, seen)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("tshark read other NSH packets: %v", seen)
	}

	// scapy-built NSH into the domain: forwarded by the same maps; bad
	// ones dropped and counted by cause. One claims map 20 but comes to
	// the boundary from outside the domain: its NSH is removed and the
	// packet classified afresh (seed 004 section 11): map 10.
	inv1 := counter(t, x1, "local-sf-invocations")
	scapy(t, d, `
forged = NSH(mdtype=1, nextproto=1, spi=20, si=255, ttl=20, context_header=bytes(16))/IP(src="192.168.10.2", dst="192.168.20.2")/UDP(sport=5556, dport=7000)/Raw(b"p7000 from outside")
send(IP(src="10.0.0.99", dst="10.0.0.1")/UDP(sport=4790, dport=4790)/VXLAN(flags=0x0C, NextProtocol=4)/forged, verbose=0)
good = NSH(mdtype=1, nextproto=1, spi=20, si=255, ttl=20, context_header=bytes(16))/IP(src="192.168.10.2", dst="192.168.20.2")/UDP(sport=5555, dport=8050)/Raw(b"p8050 scapy")
send(IP(src="10.0.0.99", dst="10.0.0.11")/UDP(sport=4790, dport=4790)/VXLAN(flags=0x0C, NextProtocol=4)/good, verbose=0)
def raw(src, b):
    send(IP(src=src, dst="10.0.0.11")/UDP(sport=4790, dport=4790)/VXLAN(flags=0x0C, NextProtocol=4)/Raw(b), verbose=0)
ok = bytes(NSH(mdtype=1, nextproto=1, spi=20, si=255, ttl=20, context_header=bytes(16))/IP()/UDP())
raw("10.0.0.12", ok)                                      # loop: from cnt's other locator
raw("10.0.0.99", ok[:7] + b"\x00" + ok[8:])               # SI 0
raw("10.0.0.99", ok[:5])                                  # truncated
raw("10.0.0.99", bytes([ok[0] | 0x40]) + ok[1:])          # version 1
raw("10.0.0.99", ok[:20])                                 # length beyond packet
raw("10.0.0.99", ok[:4] + b"\x00\x00\x63\xff" + ok[8:])   # unknown SPI 99
raw("10.0.0.99", bytes([0x00, 0xc3, 0x02, 0x01, 0, 0, 20, 255, 0, 1, 2, 9]) + bytes(20))  # MD2 TLV overflow
`)
	got = receive(d.received, 2)
	if len(got[8050]) != 1 || len(got[7000]) != 1 {
		t.Fatalf("scapy's NSH packets did not reach the server: %v", got)
	}
	bx = sfcState(t, d.eb)
	if v := counter(t, bx, "stripped-external-packets"); v != 1 {
		t.Errorf("boundary stripped-external-packets = %d, want 1", v)
	}
	if v := entryPackets(t, bx, 10, 255); v != 9 {
		t.Errorf("the packet from outside did not take map 10: entry 10/255 has %d packets, want 9", v)
	}
	x1 = waitState(t, d.e1, "bad input counted", func(x string) bool { return strings.Contains(x, "<tlv-overflow>1</tlv-overflow>") })
	for leaf, want := range map[string]uint64{"loop-detected-drops": 1, "si-exhausted-drops": 1, "truncated": 1, "bad-version": 1,
		"length-beyond-packet": 1, "unknown-map-drops": 1, "tlv-overflow": 1, "malformed-drops": 4} {
		if v := counter(t, x1, leaf); v != want {
			t.Errorf("sf1 %s = %d, want %d", leaf, v, want)
		}
	}
	// The looping packet was not handed to the SF a second time: only
	// scapy's good packet and, maybe, the forged one's hop were.
	if v := counter(t, x1, "local-sf-invocations") - inv1; v < 1 || v > 2 {
		t.Errorf("sf1 invoked cnt %d times for scapy's packets, want the good one (and the re-classified one if hashed here)", v)
	}

	failover(t, d)
	fragmentation(t, d)
}

// fragmentation: with mtu 1000 on the boundary, a 1400-octet datagram
// without DF is fragmented with an NSH on every fragment and reassembled
// by the server; with DF it is dropped and counted.
func fragmentation(t *testing.T, d *domain) {
	before := counter(t, sfcState(t, d.eb), "fragments")
	c := listenUDP(t, d.cli, net.IPv4(192, 168, 10, 2), 0)
	set := func(v int) {
		rc, _ := c.SyscallConn()
		_ = rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MTU_DISCOVER, v) })
	}
	big := make([]byte, 1400)
	copy(big, "p7000 big")
	to := &net.UDPAddr{IP: net.IPv4(192, 168, 20, 2), Port: 7000}
	set(syscall.IP_PMTUDISC_DONT)
	if _, err := c.WriteToUDP(big, to); err != nil {
		t.Fatal(err)
	}
	set(syscall.IP_PMTUDISC_DO)
	copy(big, "p7000 DF!")
	if _, err := c.WriteToUDP(big, to); err != nil {
		t.Fatal(err)
	}
	got := receive(d.received, 1) // the DF one is dropped
	if len(got[7000]) != 1 || len(got[7000][0]) != 1400 || !strings.HasPrefix(got[7000][0], "p7000 big") {
		t.Fatalf("server got %d datagrams on 7000 (want the 1400-octet one without DF): %q", len(got[7000]), got[7000])
	}
	x := sfcState(t, d.eb)
	if n := counter(t, x, "fragments") - before; n != 2 {
		t.Errorf("boundary made %d fragments, want 2", n)
	}
	if n := counter(t, x, "too-big-drops"); n != 1 {
		t.Errorf("too-big-drops = %d, want 1 (the DF datagram)", n)
	}
}

func scapy(t *testing.T, d *domain, body string) {
	t.Helper()
	script := "from scapy.all import *\nfrom scapy.contrib.nsh import NSH\nfrom scapy.layers.vxlan import VXLAN\n" + body
	if out, err := d.core.Command("/usr/bin/python3", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("scapy: %v\n%s", err, out)
	}
}

// failover kills SF node 1: its locator goes down by S-BFD and map 20's
// flows all go to SF node 2.
func failover(t *testing.T, d *domain) {
	sub := d.eb.Subscribe(t)

	flows := func() int {
		before1, before2 := counter(t, sfcState(t, d.e2), "local-sf-invocations"), uint64(0)
		if !d.e1.Killed() {
			before2 = counter(t, sfcState(t, d.e1), "local-sf-invocations")
		}
		for p := 8000; p < 8032; p++ {
			d.send(t, p, 1, 0, fmt.Sprintf("p%d", p))
		}
		got := receive(d.received, 32)
		n := 0
		for p := 8000; p < 8032; p++ {
			n += len(got[p])
		}
		after1 := counter(t, sfcState(t, d.e2), "local-sf-invocations")
		sf1 := "is dead"
		if !d.e1.Killed() {
			sf1 = fmt.Sprint(counter(t, sfcState(t, d.e1), "local-sf-invocations") - before2)
		}
		t.Logf("32 flows: sf2 took %d, sf1 %s", after1-before1, sf1)
		if n != 32 {
			t.Fatalf("server received %d of 32 flows", n)
		}
		return int(after1 - before1)
	}
	if flows() == 32 {
		t.Log("all 32 flows hashed to sf2 before the failure; the move is not visible in counts")
	}
	// Up once each, never a flap in between.
	if n := strings.Count(d.eb.Log(), "sfc locator liveness"); n != 2 {
		t.Fatalf("%d liveness changes before the failure, want 2 (unknown to up, each locator):\n%s", n, d.eb.Log())
	}
	killed := time.Now()
	d.e1.Kill()
	note := sub.Wait(t, 30*time.Second, "sf-liveness-change of 10.0.0.11 to down over NETCONF",
		"sf-liveness-change", "10.0.0.11", "<new-state>down</new-state>")
	t.Logf("SF node 1 killed; locator down notified over NETCONF after %v (S-BFD %s)",
		note.At.Sub(killed).Round(time.Millisecond), bfdTimers)
	x := sfcState(t, d.eb)
	if !regexp.MustCompile(`(?s)<address>10.0.0.11</address>.*?<liveness-state>down</liveness-state>`).MatchString(x) {
		t.Errorf("locator 10.0.0.11 not down in state")
	}
	if n := flows(); n != 32 {
		t.Fatalf("after the failure sf2 took %d of 32 flows", n)
	}
}
