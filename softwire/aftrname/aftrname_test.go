package aftrname

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/rfc1035label"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/wirebeat/wirebeat/tools/dnsmasq"
	"github.com/wirebeat/wirebeat/tools/kea"
	"github.com/wirebeat/wirebeat/tools/netns"
)

func reply(t testing.TB, xid dhcpv6.TransactionID, name string) []byte {
	m, err := dhcpv6.NewMessage()
	if err != nil {
		t.Fatal(err)
	}
	m.MessageType = dhcpv6.MessageTypeReply
	m.TransactionID = xid
	if name != "" {
		m.AddOption(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionAFTRName, OptionData: rfc1035label.NewLabels().ToBytes()})
		l := &rfc1035label.Labels{Labels: []string{name}}
		m.UpdateOption(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionAFTRName, OptionData: l.ToBytes()})
	}
	m.AddOption(dhcpv6.OptDNS(net.ParseIP("2001:db8::53")))
	return m.ToBytes()
}

func TestParseReply(t *testing.T) {
	xid := dhcpv6.TransactionID{1, 2, 3}
	r, err := ParseReply(reply(t, xid, "aftr.example.net"), xid)
	if err != nil || r.Name != "aftr.example.net" || len(r.DNS) != 1 || r.DNS[0] != netip.MustParseAddr("2001:db8::53") || r.Refresh != 24*time.Hour {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := ParseReply(reply(t, xid, "aftr.example.net"), dhcpv6.TransactionID{9}); err == nil {
		t.Fatal("reply to another transaction accepted")
	}
	if _, err := ParseReply(reply(t, xid, ""), xid); err != ErrNoAFTRName {
		t.Fatalf("no option: %v", err)
	}
	if _, err := ParseReply([]byte{7, 1, 2}, xid); err == nil {
		t.Fatal("truncated message accepted")
	}
}

func FuzzParseReply(f *testing.F) {
	xid := dhcpv6.TransactionID{1, 2, 3}
	f.Add(reply(f, xid, "aftr.example.net"))
	q := dnsmessage.MustNewName("aftr.example.net.")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseReply(b, xid)
		_, _ = ParseAAAA(b, 1, q)
	})
}

// TestDiscoveryWithKeaAndDnsmasq: a real Kea hands out the AFTR-Name
// and the DNS server, a real dnsmasq resolves the name.
func TestDiscoveryWithKeaAndDnsmasq(t *testing.T) {
	b4 := netns.New(t, "b4")
	acc := netns.New(t, "acc")
	for _, ns := range []*netns.NS{b4, acc} {
		ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
	}
	bIf, aIf := netns.Unique("wan"), netns.Unique("acc")
	netns.Veth(t, b4, bIf, acc, aIf)
	acc.Addr(t, aIf, "2001:db8:1::1/64")
	acc.Addr(t, aIf, "2001:db8:1::53/64")
	b4.Addr(t, bIf, "2001:db8:1::100/64")
	aftrs := []netip.Addr{netip.MustParseAddr("2001:db8:a::1"), netip.MustParseAddr("2001:db8:b::1")}
	dnsmasq.StartDNS(t, acc, netip.MustParseAddr("2001:db8:1::53"), map[string][]netip.Addr{"aftr.example.net": aftrs})
	k := kea.StartDHCPv6(t, acc, kea.DHCPv6{Interface: aIf, Subnet: "2001:db8:1::/64", Options: []kea.Option{
		{Name: "aftr-name", Data: "aftr.example.net"}, {Name: "dns-servers", Data: "2001:db8:1::53"}}})
	// Link-local addresses appear a moment after the link comes up.
	var res Result
	err := b4.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var err error
		for ctx.Err() == nil {
			if res, err = Discover(ctx, bIf); err == nil {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return err
	})
	if err != nil {
		t.Fatalf("discovery: %v\nkea:\n%s", err, k.Output())
	}
	slices.SortFunc(res.Addrs, netip.Addr.Compare)
	if res.Name != "aftr.example.net" || !slices.Equal(res.Addrs, aftrs) || len(res.DNS) != 1 {
		t.Fatalf("discovered %+v", res)
	}
	t.Logf("discovered %s = %v via DNS %v", res.Name, res.Addrs, res.DNS)
}
