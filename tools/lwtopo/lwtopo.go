// Package lwtopo builds the shared shape of the lw4o6 failover live
// tests (softwire/failover, softwire/lwfaillive) in network namespaces:
//
//	home ── lwB4 ──(test's links)── primary lwAFTR ─┬─ Internet server
//	                                  backup lwAFTR  ─┘
//
// It makes the namespaces, the home and Internet links with their
// addresses and routes, and the paced HTTP server on the Internet side.
// How the lwB4 reaches the two lwAFTRs (directly, or through a router),
// and the elements themselves, are each test's own.
package lwtopo

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

// Addresses of the topology.
const (
	// Anycast is the lwAFTRs' shared IPv6 address (the BR of the binding).
	Anycast = "2001:db8:ac::1"
	// Server is the Internet server's address; it listens on port 8080.
	Server = "203.0.113.7"
	// Pool is the lwAFTRs' public IPv4 prefix, routed by the Internet to
	// the primary (External1) until MovePool.
	Pool = "192.0.2.0/24"
	// External1 and External2 are the primary's and the backup's
	// addresses on their Internet links.
	External1, External2 = "10.1.0.1", "10.2.0.1"
)

// Size is the length of the server's long download.
const Size = 24 << 20

// Net is the shared part of the topology.
type Net struct {
	Home, B4, A1, A2, Inet *netns.NS
	// H0 is the home client's link to the lwB4, B0 the lwB4's end of it
	// (its LAN device, 192.168.1.1 as the home's default gateway).
	H0, B0 string
	// E1 and E2 are the lwAFTRs' external devices, X1 and X2 the
	// Internet's ends of those links (10.1.0.254, 10.2.0.254).
	E1, X1, E2, X2 string
}

// New builds the namespaces and the home and Internet links; p is a
// one-letter prefix of every namespace and device name (ph, pb, pa, pi,
// pe, px), telling the tests' names apart.
func New(t testing.TB, p string) *Net {
	t.Helper()
	testenv.Tool(t, "curl", "curl")
	testenv.Tool(t, "ethtool", "ethtool")
	n := &Net{Home: netns.New(t, p+"h"), B4: netns.New(t, p+"b"),
		A1: netns.New(t, p+"a"), A2: netns.New(t, p+"a"), Inet: netns.New(t, p+"i")}
	u := netns.Unique
	n.H0, n.B0 = u(p+"h"), u(p+"b")
	n.E1, n.X1, n.E2, n.X2 = u(p+"e"), u(p+"x"), u(p+"e"), u(p+"x")
	netns.Veth(t, n.Home, n.H0, n.B4, n.B0)
	netns.Veth(t, n.A1, n.E1, n.Inet, n.X1)
	netns.Veth(t, n.A2, n.E2, n.Inet, n.X2)

	// Home network, MTU small enough that tunnelled packets need no
	// fragmenting.
	n.Home.Addr(t, n.H0, "192.168.1.100/24")
	n.Home.Must(t, "ip", "link", "set", n.H0, "mtu", "1400")
	n.Home.Must(t, "ip", "route", "add", "default", "via", "192.168.1.1")
	// The Internet.
	n.Inet.Must(t, "ip", "addr", "add", Server+"/32", "dev", "lo")
	n.Inet.Addr(t, n.X1, "10.1.0.254/24")
	n.Inet.Addr(t, n.X2, "10.2.0.254/24")
	n.Inet.Must(t, "ip", "route", "add", Pool, "via", External1)
	// veth leaves TCP checksums to be filled in by "hardware": frames an
	// lwAFTR or lwB4 reads off the link would carry them unfinished into
	// the tunnel.
	for _, x := range []string{n.X1, n.X2} {
		n.Inet.Must(t, "ethtool", "-K", x, "tx", "off")
	}
	n.Home.Must(t, "ethtool", "-K", n.H0, "tx", "off")
	return n
}

// MovePool routes the pool to the backup, as the Internet's router would
// when the primary stops answering. (Moving the anycast route on the
// lwB4's side is the test's: that side is its own.)
func (n *Net) MovePool(t testing.TB) {
	t.Helper()
	n.Inet.Must(t, "ip", "route", "replace", Pool, "via", External2)
}

// Serve runs the HTTP server on Server:8080 in the Internet namespace
// until the test ends: /small is 1000 bytes; any other path is the long
// download of Size bytes, paced at rate(request) bytes a second (an
// error from rate is the answer, 400). It returns the count of download
// bytes written so far.
//
// The server paces the download itself rather than leaving it to curl's
// --limit-rate: that only limits how fast curl reads its socket, and the
// home namespace's receive buffer grows to net.ipv4.tcp_rmem's maximum
// (32 MiB on the CI machine), so the whole download could cross the
// primary in a second or two and sit in the client's buffer; the primary
// would then die after the transfer had ended on the wire and the backup
// would carry nothing. Paced at the server, every byte not yet written
// when the primary dies crosses the backup.
func (n *Net) Serve(t testing.TB, rate func(*http.Request) (int, error)) *atomic.Int64 {
	t.Helper()
	served := new(atomic.Int64)
	var ln net.Listener
	if err := n.Inet.Do(func() (err error) { ln, err = net.Listen("tcp", Server+":8080"); return err }); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			_, _ = w.Write(make([]byte, 1000))
			return
		}
		rate, err := rate(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(Size))
		chunk := make([]byte, 64<<10)
		start := time.Now()
		for sent := 0; sent < Size; sent += len(chunk) {
			// Never ahead of the rate; after a stall it catches up.
			if d := time.Until(start.Add(time.Duration(sent) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
			served.Add(int64(len(chunk)))
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return served
}

// Curl fetches /small from the home namespace over a fresh connection,
// within timeout seconds (curl -m), and reports whether it got 200.
func (n *Net) Curl(timeout string) bool {
	out, err := n.Home.Command("curl", "-sS", "-m", timeout, "-o", "/dev/null", "-w", "%{http_code}", "http://"+Server+":8080/small").CombinedOutput()
	return err == nil && string(out) == "200"
}
