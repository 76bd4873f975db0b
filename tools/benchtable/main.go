// Command benchtable runs the project's Go benchmarks and prints the
// figures DESIGN.md asks for as one table: `make bench`.
//
// Each row names a benchmark; the table shows every metric it reports
// (ns/op, MB/s, and custom ones such as commits/s or Mpps), measured on
// this machine in this run. Benchmarks that need root or a missing tool
// skip themselves and show as skipped.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
)

// suite is one `go test -bench` run.
type suite struct {
	pkg, pattern, benchtime string
}

var suites = []suite{
	{"./bfd/", ".", "1s"},
	{"./bfd/...", "Scale|Timers", "1x"},
	{"./softwire/...", ".", "1s"},
	{"./schema/", ".", "1x"},
	{"./server/", "OneLeafCommit", "200x"},
	{"./server/", "Commit100k|SmallCommit|SmallTx|Boot|CopyRunning|Datadir|Crash", "1x"},
	{"./server/netconf/", ".", "1x"},
	{"./server/gnmi/", ".", "2s"},
	{"./server/cli/", "BindingTableCount|50Sessions", "1x"},
	{"./server/cli/", "CommitLatency", "200x"},
	{"./sfc/...", ".", "1s"},
}

func main() {
	only := flag.String("only", "", "run only suites whose package contains this")
	flag.Parse()
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "package\tbenchmark\tfigures")
	fmt.Fprintln(tw, "-------\t---------\t-------")
	failed := false
	for _, s := range suites {
		if *only != "" && !strings.Contains(s.pkg, *only) {
			continue
		}
		args := []string{"test", "-run", "^$", "-bench", s.pattern, "-benchtime", s.benchtime, "-benchmem", s.pkg}
		out, err := exec.Command("go", args...).CombinedOutput()
		rows := parse(out)
		if err != nil {
			failed = true
			fmt.Fprintf(tw, "%s\t(failed)\t%s\n", s.pkg, firstLine(out))
		}
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.pkg, r.name, r.figures)
		}
		tw.Flush()
	}
	tw.Flush()
	if failed {
		os.Exit(1)
	}
}

type row struct{ pkg, name, figures string }

// parse reads `go test -bench` output: "pkg:" lines set the package,
// "BenchmarkX-N  iters  v unit  v unit" lines become rows.
func parse(out []byte) []row {
	var rows []row
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/wirebeat/wirebeat/")
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		var figs []string
		for i := 2; i+1 < len(f); i += 2 {
			figs = append(figs, f[i]+" "+f[i+1])
		}
		rows = append(rows, row{pkg, name, strings.Join(figs, ", ")})
	}
	return rows
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
