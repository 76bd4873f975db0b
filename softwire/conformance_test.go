package softwire

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/softwire/snabbconf"
	"github.com/wirebeat/wirebeat/softwire/vectors"
)

// conformanceCase is one line of cases.tsv.
type conformanceCase struct {
	name, conf, in4, in6, out4, out6, counters string
}

func readCases(t *testing.T, dir string) []conformanceCase {
	f, err := os.Open(filepath.Join(dir, "cases.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cs []conformanceCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 7 {
			t.Fatalf("cases.tsv: %d columns in %q", len(c), line)
		}
		cs = append(cs, conformanceCase{c[0], c[1], c[2], c[3], c[4], c[5], c[6]})
	}
	return cs
}

// readKnownFailures reads "mode<TAB>case name" lines.
func readKnownFailures(t *testing.T) map[string]bool {
	known := map[string]bool{}
	data, err := os.ReadFile("testdata/known-failures.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			known[l] = true
		}
	}
	return known
}

// runCase runs one case and says why it fails, or "" when both outputs
// are byte-equal to the expected pcaps.
func runCase(dir string, c conformanceCase, stick bool) string {
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
	pcap := func(name string) string {
		if name == "-" {
			name = "empty.pcap"
		}
		return filepath.Join(dir, "pcap", name)
	}
	var ins [2]*bytes.Reader
	for i, n := range []string{c.in4, c.in6} {
		b, err := os.ReadFile(pcap(n))
		if err != nil {
			return err.Error()
		}
		ins[i] = bytes.NewReader(b)
	}
	var out4, out6 bytes.Buffer
	if _, err := lwaftr.Check(cfg, bindings, ins[0], ins[1], &out4, &out6); err != nil {
		return "check: " + err.Error()
	}
	var why []string
	for _, o := range []struct {
		side string
		got  []byte
		file string
	}{{"v4", out4.Bytes(), c.out4}, {"v6", out6.Bytes(), c.out6}} {
		want, err := os.ReadFile(pcap(o.file))
		if err != nil {
			return err.Error()
		}
		if !bytes.Equal(o.got, want) {
			why = append(why, fmt.Sprintf("%s output differs from %s (%d bytes, want %d)", o.side, o.file, len(o.got), len(want)))
		}
	}
	return strings.Join(why, "; ")
}

// TestConformance runs the 84 Snabb lwAFTR cases in two-interface and
// on-a-stick mode and compares outputs byte for byte. The known-failures
// file is checked both ways so it only ever shrinks.
func TestConformance(t *testing.T) {
	dir := vectors.Dir()
	if dir == "" {
		t.Skip("SKIP: lwAFTR conformance vectors not found beside the repository (../shared/conformance/lwaftr)")
	}
	cases := readCases(t, dir)
	known := readKnownFailures(t)
	var pass2, passStick, nStick int
	var unexpected, fixed []string
	seen := map[string]bool{}
	for _, c := range cases {
		for _, stick := range []bool{false, true} {
			mode := "two-interface"
			if stick {
				if c.counters == "non-ipv4-traffic-to-ipv4-interface.json" || c.counters == "non-ipv6-traffic-to-ipv6-interface.json" {
					continue
				}
				mode = "on-a-stick"
				nStick++
			}
			id := mode + "\t" + c.name
			seen[id] = true
			why := runCase(dir, c, stick)
			switch {
			case why == "" && stick:
				passStick++
			case why == "":
				pass2++
			}
			if why != "" && !known[id] {
				unexpected = append(unexpected, id+": "+why)
			}
			if why == "" && known[id] {
				fixed = append(fixed, id)
			}
		}
	}
	line := fmt.Sprintf("lwaftr conformance: %d/%d two-interface, %d/%d on-a-stick", pass2, len(cases), passStick, nStick)
	fmt.Println(line)
	t.Log(line)
	var stale []string
	for id := range known {
		if !seen[id] {
			stale = append(stale, id)
		}
	}
	sort.Strings(stale)
	for _, id := range stale {
		t.Errorf("known-failures.txt names a case that does not exist: %q", id)
	}
	for _, id := range fixed {
		t.Errorf("passes now, remove it from testdata/known-failures.txt: %q", id)
	}
	for _, u := range unexpected {
		t.Errorf("fails and is not in testdata/known-failures.txt: %s", u)
	}
}
