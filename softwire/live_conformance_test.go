package softwire

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/softwire/pcapio"
	"github.com/wirebeat/wirebeat/softwire/snabbconf"
	"github.com/wirebeat/wirebeat/softwire/vectors"
	"github.com/wirebeat/wirebeat/tools/netns"
)

// pcapFrames reads the frames of a vector pcap ("-": none).
func pcapFrames(dir, name string) ([][]byte, error) {
	if name == "-" {
		return nil, nil
	}
	f, err := os.Open(filepath.Join(dir, "pcap", name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := pcapio.NewReader(f)
	if err != nil {
		return nil, err
	}
	var fs [][]byte
	for {
		fr, err := rd.Next()
		if err != nil {
			return fs, nil
		}
		fs = append(fs, append([]byte(nil), fr...))
	}
}

// TestLiveConformance runs the conformance vectors through pktio ports
// on veth pairs in namespaces, two-interface and on-a-stick: a peer port
// injects each case's input frames as one burst per side, the lwAFTR
// forwards them with its runner, and what arrives back at the peer ports
// must be the expected pcaps' frames, byte for byte and in order. Cases
// in testdata/known-failures.txt (the pcap runner's) and
// testdata/known-failures-live.txt (what only the live path cannot
// reproduce, each with its reason) are expected to fail; the lists are
// checked both ways.
func TestLiveConformance(t *testing.T) {
	dir := vectors.Dir()
	if dir == "" {
		t.Skip("SKIP: lwAFTR conformance vectors not found beside the repository (../shared/conformance/lwaftr)")
	}
	nsLw, nsPeer := netns.New(t, "lw"), netns.New(t, "peer")
	devs := map[string]string{}
	for _, n := range []string{"lwe", "lwi", "lws", "pe", "pi", "ps"} {
		devs[n] = netns.Unique(n)
	}
	for _, ns := range []*netns.NS{nsLw, nsPeer} {
		ns.Must(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	for _, p := range [][2]string{{"pe", "lwe"}, {"pi", "lwi"}, {"ps", "lws"}} {
		netns.Veth(t, nsPeer, devs[p[0]], nsLw, devs[p[1]])
		nsPeer.Must(t, "ip", "link", "set", devs[p[0]], "mtu", "9000")
		nsLw.Must(t, "ip", "link", "set", devs[p[1]], "mtu", "9000")
	}
	// Short receive waits: the peers poll in turn, and each case's
	// runner stops within one wait.
	open := func(ns *netns.NS, dev string) pktio.Port {
		var p pktio.Port
		if err := ns.Do(func() (err error) {
			p, err = pktio.Open(dev, pktio.Config{MaxFrame: 9300, PollTimeout: 2 * time.Millisecond})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	peers := map[string]pktio.Port{"pe": open(nsPeer, devs["pe"]), "pi": open(nsPeer, devs["pi"]), "ps": open(nsPeer, devs["ps"])}
	for _, p := range peers {
		defer p.Close()
	}
	known := readKnownFailures(t)
	live, err := os.ReadFile("testdata/known-failures-live.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(live), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			known[l] = true
		}
	}
	var unexpected, fixed []string
	pass := map[string]int{}
	seen := map[string]bool{}
	for _, c := range readCases(t, dir) {
		for _, stick := range []bool{false, true} {
			mode := "two-interface"
			if stick {
				if c.counters == "non-ipv4-traffic-to-ipv4-interface.json" || c.counters == "non-ipv6-traffic-to-ipv6-interface.json" {
					continue
				}
				mode = "on-a-stick"
			}
			id := mode + "\t" + c.name
			seen[id] = true
			why := liveCase(t, dir, c, stick, nsLw, devs, peers, open)
			if why == "" {
				pass[mode]++
			}
			if why != "" && !known[id] {
				unexpected = append(unexpected, id+": "+why)
			}
			if why == "" && known[id] {
				fixed = append(fixed, id)
			}
		}
	}
	t.Logf("lwaftr live conformance (pktio on veth): %d two-interface, %d on-a-stick passed", pass["two-interface"], pass["on-a-stick"])
	sort.Strings(unexpected)
	for _, u := range unexpected {
		t.Errorf("fails: %s", u)
	}
	for _, f := range fixed {
		if seen[f] {
			t.Errorf("passes but is listed as a known failure: %s", f)
		}
	}
}

// liveCase runs one case and says why it fails ("" when it passes).
func liveCase(t *testing.T, dir string, c conformanceCase, stick bool, nsLw *netns.NS, devs map[string]string,
	peers map[string]pktio.Port, open func(*netns.NS, string) pktio.Port) string {
	src, err := os.ReadFile(filepath.Join(dir, "conf", c.conf))
	if err != nil {
		return err.Error()
	}
	dev, err := snabbconf.Import(src)
	if err != nil {
		return "import: " + err.Error()
	}
	cfg, bindings, err := LwaftrConfig(dev)
	if err != nil {
		return "config: " + err.Error()
	}
	cfg.OnAStick = stick
	bt, err := lwaftr.NewTable(bindings)
	if err != nil {
		return err.Error()
	}
	var links [2]Link
	inject := [2]pktio.Port{peers["pe"], peers["pi"]}
	if stick {
		p := open(nsLw, devs["lws"])
		links = [2]Link{p, p}
		inject = [2]pktio.Port{peers["ps"], peers["ps"]}
	} else {
		links = [2]Link{open(nsLw, devs["lwe"]), open(nsLw, devs["lwi"])}
	}
	r, err := startRunner(slog.New(slog.DiscardHandler), cfg, bt, links)
	if err != nil {
		return err.Error()
	}
	defer r.close()
	var want [2][][]byte
	for i, name := range []string{c.out4, c.out6} {
		if want[i], err = pcapFrames(dir, name); err != nil {
			return err.Error()
		}
	}
	var fed uint64
	for side, name := range []string{c.in4, c.in6} {
		frames, err := pcapFrames(dir, name)
		if err != nil {
			return err.Error()
		}
		for _, f := range frames {
			if !inject[side].Send(f) {
				return fmt.Sprintf("inject: frame of %d bytes refused", len(f))
			}
		}
		if err := inject[side].Flush(); err != nil {
			return err.Error()
		}
		fed += uint64(len(frames))
		// The engine has taken them all before the other side's input
		// comes, as in the pcap runner.
		for i := 0; i < 2000; i++ {
			s := r.snapshot()
			if s.C.InFrames[0]+s.C.InFrames[1] >= fed {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Everything sent arrives in order at the peers: take frames until
	// as many as expected came (bounded), then a little more for any
	// frame too many.
	var got [2][][]byte
	b := pktio.NewBatch(pktio.DefaultBatch)
	total := len(want[0]) + len(want[1])
	deadline, quiet := time.Now().Add(3*time.Second), time.Time{}
	for now := time.Now(); now.Before(deadline) && (quiet.IsZero() || now.Before(quiet)); now = time.Now() {
		for i, p := range inject {
			if stick && i == 1 {
				break
			}
			if err := p.Receive(b); err != nil {
				t.Fatal(err)
			}
			for _, f := range b.Frames {
				side := i
				if stick {
					side = int(r.workers[0].eng.Classify(f))
				}
				got[side] = append(got[side], append([]byte(nil), f...))
			}
			p.Release(b)
		}
		if quiet.IsZero() && len(got[0])+len(got[1]) >= total {
			quiet = time.Now().Add(15 * time.Millisecond)
		}
	}
	var why []string
	for i, name := range []string{c.out4, c.out6} {
		if !framesEqual(got[i], want[i]) {
			why = append(why, fmt.Sprintf("side %d: %d frames, want %d (%s)", i, len(got[i]), len(want[i]), name))
		}
	}
	return strings.Join(why, "; ")
}

func framesEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
