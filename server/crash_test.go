package server

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

const crashHelperEnv = "WIREBEAT_CRASH_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashHelperEnv); dir != "" {
		os.Exit(crashHelper(dir))
	}
	os.Exit(m.Run())
}

// crashHelper commits hostnames h-<n+1>, h-<n+2>, ... as fast as it can and
// prints each number once its commit has returned, until killed (or a
// bound of 20,000 commits or 60 s).
func crashHelper(dir string) int {
	s, err := New(Options{DataDir: dir, Logger: quiet})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	n := hostNumber(s.Running())
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
		n++
		name := "h-" + strconv.Itoa(n)
		if err := s.Edit(admin, Running, func(root *gen.Device) error {
			root.GetOrCreateSystem().Hostname = ygot.String(name)
			return nil
		}); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("committed", n)
	}
	return 0
}

func hostNumber(root *gen.Device) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(root.GetSystem().GetHostname(), "h-"))
	return n
}

// A kill -9 in the middle of a stream of commits leaves a startup config
// that parses and equals the last acknowledged commit or the one after it
// (whose commit was under way), and the element starts from it.
func TestCrashDuringCommitsLeavesConsistentStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	for round := 0; round < 5; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashHelperEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 5 + rand.IntN(40)
		last := -1
		sc := bufio.NewScanner(out)
		for seen := 0; seen < killAfter && sc.Scan(); seen++ {
			line := sc.Text()
			if !strings.HasPrefix(line, "committed ") {
				t.Fatalf("helper: %s", line)
			}
			last, _ = strconv.Atoi(strings.TrimPrefix(line, "committed "))
		}
		cmd.Process.Kill()
		// Lines written before the kill still count as acknowledged.
		for sc.Scan() {
			if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "committed ")); err == nil {
				last = n
			}
		}
		cmd.Wait()
		if last < 0 {
			t.Fatal("helper committed nothing")
		}
		data, err := os.ReadFile(dir + "/" + startupFile)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		cfg, err := schema.DecodeJSON(data)
		if err != nil {
			t.Fatalf("round %d: startup does not parse after kill -9: %v", round, err)
		}
		if got := hostNumber(cfg); got != last && got != last+1 {
			t.Fatalf("round %d: startup holds commit %d; last acknowledged %d", round, got, last)
		}
		t.Logf("round %d: killed after commit %d, startup holds %d", round, last, hostNumber(cfg))
	}
	s := newTestServer(t, dir)
	if hostNumber(s.Running()) == 0 {
		t.Error("element did not start from the surviving startup config")
	}
}
