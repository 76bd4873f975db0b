package dhcp4o6

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// keaConfigs returns the DHCPv6 and DHCPv4 configurations of a Kea pair
// in DHCPv4-over-DHCPv6 mode on interface ifname: the DHCPv6 side gives
// the S46 lw4o6 container with the BR (the anycast lwAFTR) and forwards
// DHCPv4-query messages to the DHCPv4 side over port 4o6port; the DHCPv4
// side leases full addresses or port sets with RFC 7618 port parameters.
func keaConfigs(dir, ifname string, port int, br string, portParams string) (string, string) {
	return keaConfigsFor(dir, ifname, ifname, port, br, portParams, false)
}

// keaConfigsFor is keaConfigs with the DHCPv6 listening spec (an
// interface, or interface/unicast-address) apart, and for relayed
// clients the subnet chosen by the relay's link-address instead of the
// interface.
func keaConfigsFor(dir, ifname, listen string, port int, br string, portParams string, relayed bool) (string, string) {
	log := func(name string) string {
		return fmt.Sprintf(`"loggers": [{"name": %q, "output_options": [{"output": %q}], "severity": "DEBUG", "debuglevel": 40}]`,
			name, filepath.Join(dir, name+".log"))
	}
	sel6 := fmt.Sprintf(`, "interface": %q`, ifname)
	sel4 := fmt.Sprintf(`"4o6-interface": %q, `, ifname)
	if relayed {
		sel6 = `, "relay": {"ip-addresses": ["2001:db8:b4::1"]}`
		sel4 = `"4o6-interface-id": "b4-link", `
	}
	v6 := fmt.Sprintf(`{"Dhcp6": {
  "interfaces-config": {"interfaces": [%q]},
  "lease-database": {"type": "memfile", "persist": true, "name": %q},
  "control-socket": {"socket-type": "unix", "socket-name": %q},
  "dhcp4o6-port": %d,
  "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "7769726562656174", "persist": false},
  "subnet6": [{"subnet": "2001:db8:b4::/64"%s,
    "option-data": [
      {"name": "s46-cont-lw", "always-send": true},
      {"space": "s46-cont-lw-options", "name": "s46-br", "data": %q}
    ]}],
  %s
}}`, listen, filepath.Join(dir, "dhcp6.leases"), filepath.Join(dir, "kea6.sock"), port, sel6, br, log("kea-dhcp6"))
	pp := ""
	if portParams != "" {
		pp = fmt.Sprintf(`, "option-data": [{"name": "v4-portparams", "csv-format": false, "always-send": true, "data": %q}]`, portParams)
	}
	v4 := fmt.Sprintf(`{"Dhcp4": {
  "interfaces-config": {"interfaces": [%q], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "name": %q},
  "control-socket": {"socket-type": "unix", "socket-name": %q},
  "dhcp4o6-port": %d,
  "valid-lifetime": 3600,
  "subnet4": [{"subnet": "192.0.2.0/24", %s"4o6-subnet": "2001:db8:b4::/64",
    "pools": [{"pool": "192.0.2.10 - 192.0.2.20"}]%s}],
  %s
}}`, ifname, filepath.Join(dir, "dhcp4.leases"), filepath.Join(dir, "kea4.sock"), port, sel4, pp, log("kea-dhcp4"))
	return v6, v4
}

// TestKea4o6 provisions an lwB4 from a real ISC Kea pair (kea-dhcp6 and
// kea-dhcp4 in DHCPv4-over-DHCPv6 mode) across a veth between two
// namespaces: the S46 container gives the BR, the DHCPv4 exchange inside
// DHCPv4-query/response messages gives the address and the RFC 7618 port
// parameters.
// startKea runs kea-dhcp4 and kea-dhcp6 with configurations v4 and v6
// inside ns; the returned function logs their output (on failure).
func startKea(t *testing.T, ns *netns.NS, dir, v6, v4 string) func() {
	t.Helper()
	k6 := testenv.Tool(t, "kea-dhcp6", "kea-dhcp6-server")
	k4 := testenv.Tool(t, "kea-dhcp4", "kea-dhcp4-server")
	os.WriteFile(filepath.Join(dir, "kea6.json"), []byte(v6), 0o644)
	os.WriteFile(filepath.Join(dir, "kea4.json"), []byte(v4), 0o644)
	for _, k := range []struct{ bin, conf string }{{k4, "kea4.json"}, {k6, "kea6.json"}} {
		cmd := ns.Command(k.bin, "-c", filepath.Join(dir, k.conf))
		cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR="+dir)
		f, _ := os.Create(filepath.Join(dir, k.conf+".out"))
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); f.Close() })
	}
	return func() {
		for _, f := range []string{"kea6.json.out", "kea4.json.out", "kea-dhcp6.log", "kea-dhcp4.log"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("%s:\n%s", f, b)
		}
	}
}

// fastLinkLocal replaces the link-local address of ifname in ns with ll,
// usable at once (no DAD wait): Kea binds its DHCPv6 socket to it.
func fastLinkLocal(t *testing.T, ns *netns.NS, ifname, ll string) {
	ns.Must(t, "ip", "-6", "addr", "flush", "dev", ifname, "scope", "link")
	ns.Addr(t, ifname, ll+"/64")
}

// provisionFrom runs the client from [fe80::b4%ifname]:546 in ns until it
// gets a lease (Kea needs a moment to open its sockets).
func provisionFrom(t *testing.T, ns *netns.NS, ifname string, dump func()) Lease {
	t.Helper()
	var conn *net.UDPConn
	var mac net.HardwareAddr
	var zone string
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		mac, zone = ifi.HardwareAddr, strconv.Itoa(ifi.Index)
		conn, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.ParseIP("fe80::b4"), Port: 546, Zone: ifname})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &Client{Conn: conn, Iface: zone, MAC: mac, B4: netip.MustParseAddr("2001:db8:b4::b4"), Timeout: time.Second, Tries: 5}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		l, err := c.Provision(ctx)
		if err == nil {
			return l
		}
		if ctx.Err() != nil {
			dump()
			t.Fatal(err)
		}
		t.Logf("provision: %v (retrying)", err)
		time.Sleep(500 * time.Millisecond)
	}
}

// TestKea4o6 provisions an lwB4 from a real ISC Kea pair (kea-dhcp6 and
// kea-dhcp4 in DHCPv4-over-DHCPv6 mode) across a veth between two
// namespaces: the S46 container gives the BR, the DHCPv4 exchange inside
// DHCPv4-query/response messages gives the address and the RFC 7618 port
// parameters.
func TestKea4o6(t *testing.T) {
	cli := netns.New(t, "kc")
	srv := netns.New(t, "ks")
	cIf, sIf := netns.Unique("kc"), netns.Unique("ks")
	netns.Veth(t, cli, cIf, srv, sIf)
	srv.Addr(t, sIf, "2001:db8:b4::1/64")
	// Kea's DHCPv4 side answers 4o6 queries only on an interface where
	// it has an IPv4 socket, so the interface gets an IPv4 address too.
	srv.Addr(t, sIf, "10.99.0.1/24")
	cli.Addr(t, cIf, "2001:db8:b4::b4/64")
	fastLinkLocal(t, srv, sIf, "fe80::1")
	fastLinkLocal(t, cli, cIf, "fe80::b4")
	dir := t.TempDir()
	// offset 6, psid-len 4, psid 5 left-aligned: 0x5000.
	v6, v4 := keaConfigs(dir, sIf, 6767, "2001:db8:ac::1", "06045000")
	dump := startKea(t, srv, dir, v6, v4)
	l := provisionFrom(t, cli, cIf, dump)
	t.Logf("lease: %+v", l)
	br := netip.MustParseAddr("2001:db8:ac::1").As16()
	if l.Binding.BR != br {
		t.Errorf("BR %v", netip.AddrFrom16(l.Binding.BR))
	}
	ip := netip.AddrFrom4([4]byte{byte(l.Binding.IPv4 >> 24), byte(l.Binding.IPv4 >> 16), byte(l.Binding.IPv4 >> 8), byte(l.Binding.IPv4)})
	if !netip.MustParsePrefix("192.0.2.0/24").Contains(ip) || l.Binding.PSID != 5 || l.Binding.PortSet.Offset != 6 || l.Binding.PortSet.Length != 4 {
		t.Fatalf("binding %v psid %d port set %+v", ip, l.Binding.PSID, l.Binding.PortSet)
	}
	if l.LeaseTime != time.Hour {
		t.Errorf("lease time %v", l.LeaseTime)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "dhcp4.leases"))
	if !strings.Contains(string(b), ip.String()) {
		t.Errorf("Kea's lease file does not hold %v:\n%s", ip, b)
	}
}
