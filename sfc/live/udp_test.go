package live

import (
	"bufio"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/tools/netns"
)

// listenUDP opens a UDP socket on ip:port (port 0: any) in ns, closed at
// cleanup.
func listenUDP(t *testing.T, ns *netns.NS, ip net.IP, port int) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	if err := ns.Do(func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: port})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// datagram is what a server socket received: its port and the payload.
type datagram struct {
	port    int
	payload string
}

// serveUDP listens on ip at every one of ports in ns and returns where
// what they receive goes.
func serveUDP(t *testing.T, ns *netns.NS, ip net.IP, ports []int) chan datagram {
	t.Helper()
	received := make(chan datagram, 1024)
	for _, p := range ports {
		c := listenUDP(t, ns, ip, p)
		go func() {
			buf := make([]byte, 2048)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				received <- datagram{p, string(buf[:n])}
			}
		}()
	}
	return received
}

// receive collects from received, by port: it waits (bounded) until
// want datagrams have come, however slowly a loaded machine forwards
// them, then a quiet second more for any that should not come.
func receive(received <-chan datagram, want int) map[int][]string {
	got := map[int][]string{}
	n := 0
	end := time.After(60 * time.Second)
	for {
		var quiet <-chan time.Time
		if n >= want {
			quiet = time.After(time.Second)
		}
		select {
		case r := <-received:
			got[r.port] = append(got[r.port], r.payload)
			n++
			continue
		case <-end:
		case <-quiet:
		}
		return got
	}
}

// capture runs tshark in ns on iface with the capture filter, writing a
// pcap file, from when tshark says the capture started; stop ends it and
// returns the file.
func capture(t *testing.T, ns *netns.NS, iface, filter string) (stop func() string) {
	t.Helper()
	pcap := t.TempDir() + "/" + iface + ".pcap"
	cmd := ns.Command("tshark", "-i", iface, "-f", filter, "-w", pcap)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "Capture started") {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return func() string {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		return pcap
	}
}
