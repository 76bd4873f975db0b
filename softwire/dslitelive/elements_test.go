package dslitelive

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/tools/element"
)

// configJSON is cfg as the RFC 7951 JSON an element reads.
func configJSON(t *testing.T, cfg *gen.Device) string {
	t.Helper()
	js, err := ygot.EmitJSON(cfg, &ygot.EmitJSONConfig{Format: ygot.RFC7951, SkipValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestDSLiteElementsKillAFTR runs the AFTRs and the B4 as wirebeat
// elements: AFTR1 is killed with SIGKILL, the B4 moves to AFTR2 and tells
// its NETCONF subscriber (aftr-failover); new connections work through
// AFTR2; AFTR1 restarts; then the B4's WAN link goes down and AFTR2 tells
// its subscriber (b4-unreachable).
func TestDSLiteElementsKillAFTR(t *testing.T) {
	tp := buildTopo(t)
	ns, dev := tp.ns, tp.dev
	data := t.TempDir()
	opt := element.Options{Dir: data}
	a1cfg := configJSON(t, aftrConfig(dev["i1"], dev["e1"], aftr1Addr, "192.0.2.11", "198.51.100.0/28"))
	aftr1 := element.Start(t, ns["aft1"], "aftr1", a1cfg, opt)
	aftr2 := element.Start(t, ns["aft2"], "aftr2", configJSON(t, aftrConfig(dev["i2"], dev["e2"], aftr2Addr, "192.0.2.12", "198.51.100.16/28")), opt)
	b4 := element.Start(t, ns["b41"], "b4", configJSON(t, b4Config(dev["w1"], dev["l1"], "2001:db8:1::b1", map[string]uint8{aftr1Addr: 10, aftr2Addr: 20}, false)), opt)
	b4sub := b4.Subscribe(t)
	a2sub := aftr2.Subscribe(t)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte(strings.Repeat("x", 100000)), 0o644); err != nil {
		t.Fatal(err)
	}
	httpLog := startServer(t, ns["inet"], "/usr/bin/python3", "-u", "-m", "http.server", "8080", "--bind", server, "--directory", dir)
	element.WaitFor(t, 10*time.Second, "HTTP server", func() bool { return strings.Contains(httpLog.String(), "Serving HTTP") })
	get := func() (string, error) {
		out, err := ns["hom1"].Command(tp.curl, "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://"+server+":8080/file").CombinedOutput()
		return string(out), err
	}
	// The B4 starts BFD to both AFTRs; traffic flows through AFTR1.
	element.WaitFor(t, 60*time.Second, "HTTP through the B4", func() bool { out, err := get(); return err == nil && out == "200" })
	if !regexp.MustCompile(`198\.51\.100\.([0-9]|1[0-5]) - -`).MatchString(httpLog.String()) {
		t.Fatalf("server log %q: not from AFTR1's pool", httpLog.String())
	}
	// BFD is up inside the tunnels, in /bfd/softwire of both ends: the
	// B4's configured session, AFTR2's automatic one (AFTR2 must be up
	// before AFTR1 dies, for a failover within the detection time).
	bfdState := `<bfd xmlns="urn:wirebeat:bfd"><softwire/></bfd>`
	element.WaitFor(t, 30*time.Second, "BFD up in /bfd/softwire of the B4 and AFTR2", func() bool {
		b := b4.Get(t, bfdState)
		a := aftr2.Get(t, bfdState)
		return regexp.MustCompile(`(?s)<session>.*<b4-address>2001:db8:1::b1</b4-address>.*<local-state>up</local-state>`).MatchString(b) &&
			regexp.MustCompile(`(?s)<dynamic-session>.*<b4-address>2001:db8:1::b1</b4-address>.*<local-state>up</local-state>`).MatchString(a)
	})

	killed := time.Now()
	aftr1.Kill()
	b4sub.Wait(t, 30*time.Second, "aftr-failover at the B4's subscriber", "aftr-failover", "<to-aftr>"+aftr2Addr+"</to-aftr>", "<reason>bfd-down</reason>")
	t.Logf("AFTR1 SIGKILLed; the B4's subscriber had aftr-failover to AFTR2 after %v (detection time 900 ms)", time.Since(killed))
	httpLog.Reset()
	element.WaitFor(t, 30*time.Second, "HTTP through AFTR2", func() bool { out, err := get(); return err == nil && out == "200" })
	if !regexp.MustCompile(`198\.51\.100\.(1[6-9]|2[0-9]|3[01]) - -`).MatchString(httpLog.String()) {
		t.Fatalf("after the failover the server saw %q", httpLog.String())
	}
	// AFTR2's counters show the B4's sessions; AFTR1's management comes
	// back with the element restarted, its state fresh.
	counters := `<softwire xmlns="urn:wirebeat:softwire"><aftr><counters/></aftr></softwire>`
	if c := aftr2.Get(t, counters); !regexp.MustCompile(`<nat-sessions>[1-9]`).MatchString(c) ||
		!regexp.MustCompile(`<active-softwire-num>1<`).MatchString(c) {
		t.Fatalf("AFTR2 counters after the failover: %s", c)
	}
	aftr1 = element.Start(t, ns["aft1"], "aftr1", a1cfg, opt)
	if c := aftr1.Get(t, counters); !strings.Contains(c, "<nat-sessions>0<") {
		t.Fatalf("restarted AFTR1 counters: %s", c)
	}

	// The B4 goes away: AFTR2 reports it to its subscriber.
	ns["b41"].Must(t, "ip", "link", "set", dev["w1"], "down")
	a2sub.Wait(t, 30*time.Second, "b4-unreachable at AFTR2's subscriber", "b4-unreachable", "<b4-address>2001:db8:1::b1</b4-address>")
	if !a2sub.Has("b4-unreachable", "<sessions>") {
		t.Fatalf("b4-unreachable without its session count:\n%s", a2sub.Dump())
	}
	t.Logf("AFTR2's subscriber: %s", a2sub.Last("b4-unreachable"))
}
