package dhcp4o6

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
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
	log := func(name string) string {
		return fmt.Sprintf(`"loggers": [{"name": %q, "output_options": [{"output": %q}], "severity": "DEBUG", "debuglevel": 40}]`,
			name, filepath.Join(dir, name+".log"))
	}
	v6 := fmt.Sprintf(`{"Dhcp6": {
  "interfaces-config": {"interfaces": [%q]},
  "lease-database": {"type": "memfile", "persist": true, "name": %q},
  "control-socket": {"socket-type": "unix", "socket-name": %q},
  "dhcp4o6-port": %d,
  "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "7769726562656174", "persist": false},
  "subnet6": [{"subnet": "2001:db8:b4::/64", "interface": %q,
    "option-data": [
      {"name": "s46-cont-lw", "always-send": true},
      {"space": "s46-cont-lw-options", "name": "s46-br", "data": %q}
    ]}],
  %s
}}`, ifname, filepath.Join(dir, "dhcp6.leases"), filepath.Join(dir, "kea6.sock"), port, ifname, br, log("kea-dhcp6"))
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
  "subnet4": [{"subnet": "192.0.2.0/24", "4o6-interface": %q, "4o6-subnet": "2001:db8:b4::/64",
    "pools": [{"pool": "192.0.2.10 - 192.0.2.20"}]%s}],
  %s
}}`, ifname, filepath.Join(dir, "dhcp4.leases"), filepath.Join(dir, "kea4.sock"), port, ifname, pp, log("kea-dhcp4"))
	return v6, v4
}

// TestKea4o6 provisions an lwB4 from a real ISC Kea pair (kea-dhcp6 and
// kea-dhcp4 in DHCPv4-over-DHCPv6 mode) across a veth between two
// namespaces: the S46 container gives the BR, the DHCPv4 exchange inside
// DHCPv4-query/response messages gives the address and the RFC 7618 port
// parameters.
func TestKea4o6(t *testing.T) {
	k6 := testenv.Tool(t, "kea-dhcp6", "kea-dhcp6-server")
	k4 := testenv.Tool(t, "kea-dhcp4", "kea-dhcp4-server")
	cli := netns.New(t, "kc")
	srv := netns.New(t, "ks")
	cIf, sIf := netns.Unique("kc"), netns.Unique("ks")
	netns.Veth(t, cli, cIf, srv, sIf)
	srv.Addr(t, sIf, "2001:db8:b4::1/64")
	// Kea's DHCPv4 side answers 4o6 queries only on an interface where
	// it has an IPv4 socket, so the interface gets an IPv4 address too.
	srv.Addr(t, sIf, "10.99.0.1/24")
	cli.Addr(t, cIf, "2001:db8:b4::b4/64")
	// Link-local addresses usable at once (no DAD wait): Kea binds its
	// DHCPv6 socket to the interface's link-local address.
	srv.Must(t, "ip", "-6", "addr", "flush", "dev", sIf, "scope", "link")
	cli.Must(t, "ip", "-6", "addr", "flush", "dev", cIf, "scope", "link")
	srv.Addr(t, sIf, "fe80::1/64")
	cli.Addr(t, cIf, "fe80::b4/64")

	dir := t.TempDir()
	// offset 6, psid-len 4, psid 5 left-aligned: 0x5000.
	v6, v4 := keaConfigs(dir, sIf, 6767, "2001:db8:ac::1", "06045000")
	os.WriteFile(filepath.Join(dir, "kea6.json"), []byte(v6), 0o644)
	os.WriteFile(filepath.Join(dir, "kea4.json"), []byte(v4), 0o644)
	start := func(bin, conf string) *exec.Cmd {
		cmd := srv.Command(bin, "-c", filepath.Join(dir, conf))
		cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR="+dir)
		f, _ := os.Create(filepath.Join(dir, conf+".out"))
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); f.Close() })
		return cmd
	}
	start(k4, "kea4.json")
	start(k6, "kea6.json")
	dump := func() {
		for _, f := range []string{"kea6.json.out", "kea4.json.out", "kea-dhcp6.log", "kea-dhcp4.log"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("%s:\n%s", f, b)
		}
	}

	var conn *net.UDPConn
	var mac net.HardwareAddr
	err := cli.Do(func() error {
		ifi, err := net.InterfaceByName(cIf)
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		conn, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.ParseIP("fe80::b4"), Port: 546, Zone: cIf})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &Client{Conn: conn, Iface: cIf, MAC: mac, B4: netip.MustParseAddr("2001:db8:b4::b4"), Timeout: time.Second, Tries: 5}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Kea needs a moment to open its sockets.
	var l Lease
	for {
		l, err = c.Provision(ctx)
		if err == nil || ctx.Err() != nil {
			break
		}
		t.Logf("provision: %v (retrying)", err)
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		dump()
		t.Fatal(err)
	}
	t.Logf("lease: %+v", l)
	br := netip.MustParseAddr("2001:db8:ac::1").As16()
	if l.Binding.BR != br {
		t.Errorf("BR %v", netip.AddrFrom16(l.Binding.BR))
	}
	ip := netip.AddrFrom4([4]byte{byte(l.Binding.IPv4 >> 24), byte(l.Binding.IPv4 >> 16), byte(l.Binding.IPv4 >> 8), byte(l.Binding.IPv4)})
	if !netip.MustParsePrefix("192.0.2.0/24").Contains(ip) || l.Binding.PSID != 5 || l.Binding.PortSet.Offset != 6 || l.Binding.PortSet.Length != 4 {
		dump()
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
