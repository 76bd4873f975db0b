package live

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// TestEthernetVLAN: NSH over Ethernet on 802.1Q VLAN 100
// (encapsulation/vlan-id). The SF node resolves the egress node with a
// tagged ARP request that scapy answers with a tagged reply (this
// kernel has no 8021q module, so no Linux VLAN interface can); a
// scapy-built Ether/Dot1Q/NSH frame is taken (tag removed),
// the local SF invoked and the packet forwarded to the egress node in a
// tagged frame, which tshark reads as VLAN 100, EtherType 0x894F, SPI 30,
// SI 254. An untagged NSH frame is not this VLAN's and is ignored.
func TestEthernetVLAN(t *testing.T) {
	testenv.RequireRoot(t, "network namespaces")
	testenv.Tool(t, "tshark", "tshark")
	if exec.Command("/usr/bin/python3", "-c", "import ncclient, scapy.contrib.nsh").Run() != nil {
		testenv.Skip(t, "python3-ncclient and python3-scapy needed for /usr/bin/python3")
	}
	sf, core := netns.New(t, "vsf"), netns.New(t, "vcor")
	for _, ns := range []*netns.NS{sf, core} {
		ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	a, b := netns.Unique("va"), netns.Unique("vb")
	netns.Veth(t, sf, a, core, b)
	sf.Addr(t, a, "10.3.0.11/24")
	coreMAC := core.MAC(t, b)
	es := startElement(t, sf, `{"wirebeat-sfc:sfc": {
  "node": {"role": ["sf-node"], "local-sf-id": "cnt", "boundary-node": ["10.3.0.99"]},
  "encapsulation": {"transport": "ethernet", "interface": "`+a+`", "local-address": "10.3.0.11", "vlan-id": 100},
  "service-functions": {"service-function": [{"id": "cnt", "locator": [{"address": "10.3.0.11"}]}]},
  "sf-maps": {"sf-map": [{"index": 30, "service-function": ["cnt"], "egress-node": "10.3.0.99"}]}
 }}`)
	// The element asks once a second; scapy answers the first tagged
	// request for 10.3.0.99 it sees (within 30 s), on VLAN 100.
	scapyIn(t, core, fmt.Sprintf(`
def req(p):
    return Dot1Q in p and p[Dot1Q].vlan == 100 and ARP in p and p[ARP].op == 1 and p[ARP].pdst == "10.3.0.99"
got = sniff(iface=%[1]q, lfilter=req, count=1, timeout=30)
if not got:
    raise SystemExit("no tagged ARP request for 10.3.0.99")
r = got[0]
sendp(Ether(src=%[2]q, dst=r[Ether].src)/Dot1Q(vlan=100)/ARP(op=2, hwsrc=%[2]q, psrc="10.3.0.99", hwdst=r[ARP].hwsrc, pdst=r[ARP].psrc), iface=%[1]q, verbose=0)
`, b, coreMAC))
	for end := time.Now().Add(30 * time.Second); !strings.Contains(es.Log(), "address=10.3.0.99 "); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("SF node did not resolve 10.3.0.99 on VLAN 100:\n%s", es.Log())
		}
	}
	sfMAC := sf.MAC(t, a)
	stop := capture(t, core, b, "")
	scapyIn(t, core, fmt.Sprintf(`
nsh = NSH(mdtype=1, nextproto=1, spi=30, si=255, ttl=20, context_header=bytes(16))/IP(src="192.168.30.2", dst="192.168.40.2")/UDP(sport=5555, dport=7000)/Raw(b"tagged")
sendp(Ether(src=%[1]q, dst=%[2]q)/Dot1Q(vlan=100, type=0x894F)/nsh, iface=%[3]q, verbose=0)
sendp(Ether(src=%[1]q, dst=%[2]q, type=0x894F)/nsh, iface=%[3]q, verbose=0)
`, coreMAC, sfMAC, b))
	var sx string
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if sx = sfcState(t, es); counter(t, sx, "forwarded-packets") >= 1 || time.Now().After(end) {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // the untagged frame, had it been taken
	sx = sfcState(t, es)
	for leaf, want := range map[string]uint64{"local-sf-invocations": 1, "forwarded-packets": 1} {
		if n := counter(t, sx, leaf); n != want {
			t.Errorf("SF node %s = %d, want %d\n%s", leaf, n, want, es.Log())
		}
	}
	pcap := stop()
	out, err := exec.Command("tshark", "-r", pcap, "-Y", "nsh", "-T", "fields", "-E", "separator=|",
		"-e", "eth.src", "-e", "eth.dst", "-e", "vlan.id", "-e", "vlan.etype", "-e", "nsh.spi", "-e", "nsh.si", "-e", "udp.dstport").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 7 {
			continue
		}
		dir := "?"
		switch {
		case f[0] == coreMAC && f[1] == sfMAC:
			dir = "core->sf"
		case f[0] == sfMAC && f[1] == coreMAC:
			dir = "sf->core"
		}
		seen[fmt.Sprintf("%s vlan %s %s %s/%s to %s", dir, f[2], f[3], f[4], f[5], f[6])]++
	}
	t.Logf("tshark on the link: %v", seen)
	want := map[string]int{
		"core->sf vlan 100 0x894f 30/255 to 7000": 1,
		"core->sf vlan   30/255 to 7000":          1,
		"sf->core vlan 100 0x894f 30/254 to 7000": 1,
	}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("tshark: %d frames %q, want %d; read:\n%s", seen[k], k, n, out)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("tshark read other NSH frames: %v", seen)
	}
}
