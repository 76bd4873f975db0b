package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirebeat/wirebeat/softwire/vectors"
)

// TestLwaftrCheckCommand runs `wirebeat lwaftr check` on one vector with
// the Snabb configuration, then with its `wirebeat import` JSON: both give
// the expected pcap byte for byte.
func TestLwaftrCheckCommand(t *testing.T) {
	dir := vectors.Dir()
	if dir == "" {
		t.Skip("SKIP: lwAFTR conformance vectors not found beside the repository")
	}
	tmp := t.TempDir()
	conf := filepath.Join(dir, "conf", "icmp_on_fail.conf")
	var js, stderr bytes.Buffer
	if rc := dispatch([]string{"import", "snabb-lwaftr", conf}, &js, &stderr); rc != 0 {
		t.Fatalf("import: %d %s", rc, stderr.String())
	}
	jsonConf := filepath.Join(tmp, "conf.json")
	if err := os.WriteFile(jsonConf, js.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "pcap", "tcp-afteraftr-ipv6.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := os.ReadFile(filepath.Join(dir, "pcap", "empty.pcap"))
	for _, c := range []string{conf, jsonConf} {
		for _, stick := range []bool{false, true} {
			o4, o6, cn := filepath.Join(tmp, "o4"), filepath.Join(tmp, "o6"), filepath.Join(tmp, "c.json")
			args := []string{"lwaftr", "check"}
			if stick {
				args = append(args, "--on-a-stick")
			}
			args = append(args, c, filepath.Join(dir, "pcap", "tcp-frominet-bound.pcap"), "-", o4, o6, cn)
			var out, errb bytes.Buffer
			if rc := dispatch(args, &out, &errb); rc != 0 {
				t.Fatalf("%v: %d %s", args, rc, errb.String())
			}
			g6, _ := os.ReadFile(o6)
			g4, _ := os.ReadFile(o4)
			if !bytes.Equal(g6, want) || !bytes.Equal(g4, empty) {
				t.Fatalf("%v: outputs differ from the vector", args)
			}
			if cs, _ := os.ReadFile(cn); !strings.Contains(string(cs), `"encap-packets": 1`) {
				t.Fatalf("counters: %s", cs)
			}
		}
	}
}

func TestLwaftrCommandErrors(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad.conf")
	if err := os.WriteFile(bad, []byte("softwire-config { nonsense 1; }"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		rc   int
		want string
	}{
		{[]string{"lwaftr"}, 2, "usage"},
		{[]string{"lwaftr", "check", "a", "b"}, 2, "usage"},
		{[]string{"import"}, 2, "usage"},
		{[]string{"import", "other", "x"}, 2, "usage"},
		{[]string{"import", "snabb-lwaftr", filepath.Join(tmp, "missing")}, 1, "no such file"},
		{[]string{"import", "snabb-lwaftr", bad}, 1, `line 1: unknown statement "nonsense"`},
		{[]string{"lwaftr", "check", bad, "-", "-", "-", "-"}, 1, `unknown statement "nonsense"`},
	} {
		var out, errb bytes.Buffer
		rc := dispatch(c.args, &out, &errb)
		if rc != c.rc || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: rc %d, stderr %q; want %d and %q", c.args, rc, errb.String(), c.rc, c.want)
		}
	}
}

// TestLwaftrBenchCommand runs `wirebeat lwaftr bench` briefly on two
// workers over a vector's frames: both directions are measured and
// every frame fed is forwarded (no figure is asserted: machines vary).
func TestLwaftrBenchCommand(t *testing.T) {
	dir := vectors.Dir()
	if dir == "" {
		t.Skip("SKIP: lwAFTR conformance vectors not found beside the repository")
	}
	conf := filepath.Join(dir, "conf", "icmp_on_fail.conf")
	in4 := filepath.Join(dir, "pcap", "tcp-frominet-bound.pcap")
	in6 := filepath.Join(dir, "pcap", "tcp-fromb4-ipv6.pcap")
	var out, stderr bytes.Buffer
	if rc := dispatch([]string{"lwaftr", "bench", "--workers", "2", "--duration", "100ms", conf, in4, in6}, &out, &stderr); rc != 0 {
		t.Fatalf("bench: %d %s", rc, stderr.String())
	}
	t.Log(out.String())
	for _, dirn := range []string{"encapsulation", "decapsulation"} {
		var line string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, dirn) {
				line = l
			}
		}
		if !strings.Contains(line, "core 0:") || !strings.Contains(line, "core 1:") {
			t.Fatalf("%s: no per-core figures in %q", dirn, line)
		}
		var in, outp float64
		if _, err := fmt.Sscanf(line[strings.Index(line, "): ")+3:], "%f Mpps in, %f Mpps out", &in, &outp); err != nil || in <= 0 || in != outp {
			t.Fatalf("%s: %q (%v): in %v out %v", dirn, line, err, in, outp)
		}
	}
	for _, bad := range [][]string{{"lwaftr", "bench"}, {"lwaftr", "bench", "--workers", "0", conf, in4, in6}, {"lwaftr", "bench", conf, in4}} {
		if rc := dispatch(bad, &out, &stderr); rc != 2 {
			t.Errorf("%v: exit %d, want 2", bad, rc)
		}
	}
}
