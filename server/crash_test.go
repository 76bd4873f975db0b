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

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

const (
	crashHelperEnv  = "WIREBEAT_CRASH_HELPER_DIR"
	crashBindingEnv = "WIREBEAT_CRASH_HELPER_BINDINGS"
)

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
	if want, _ := strconv.Atoi(os.Getenv(crashBindingEnv)); want > 0 && bindingCount(s.Running()) != want {
		if err := s.Edit(admin, Running, func(root *gen.Device) error { addBindings(root, want); return nil }); err != nil {
			fmt.Println("error", err)
			return 1
		}
	}
	n := hostNumber(s.Running())
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
		n++
		name := "h-" + strconv.Itoa(n)
		if err := s.EditTx(admin, Running, func(tx *schema.Tx) error {
			sys, _, err := tx.Touch(&gpb.Path{Elem: []*gpb.PathElem{{Name: "system"}}}, true)
			if err != nil {
				return err
			}
			sys.(*gen.WirebeatSystem_System).Hostname = ygot.String(name)
			return nil
		}); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("committed", n)
	}
	return 0
}

func bindingCount(root *gen.Device) int {
	if bt := root.GetSoftwire().GetLwaftr().GetBindingTable(); bt != nil {
		return len(bt.Softwire)
	}
	return 0
}

func hostNumber(root *gen.Device) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(root.GetSystem().GetHostname(), "h-"))
	return n
}

// A kill -9 in the middle of a stream of commits leaves a journal that
// reads back as the last acknowledged commit or the one after it (whose
// commit was under way), and the element starts from it.
func TestCrashDuringCommitsLeavesConsistentStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	crashRounds(t, dir, 5, 0)
	s := newTestServer(t, dir)
	if hostNumber(s.Running()) == 0 {
		t.Error("element did not start from the surviving configuration")
	}
}

// The same with 100,000 bindings configured: each small commit is one
// journal record next to the table's snapshot, and a kill -9 loses
// neither. (BenchmarkCrashWith1MBindings runs it with a million.)
func TestCrashWithLargeTable(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	crashRounds(t, datadirWithBindings(t, 100_000), 2, 100_000)
}

// crashRounds runs the commit helper over dir and kills it with SIGKILL
// after a random number of acknowledged commits, rounds times, checking
// after each kill that the saved configuration reads back as the last
// acknowledged commit or the one after it, with its bindings.
func crashRounds(t testing.TB, dir string, rounds, bindings int) {
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
		cmd.Env = append(os.Environ(), crashHelperEnv+"="+dir, crashBindingEnv+"="+strconv.Itoa(bindings))
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
		st, err := openStore(dir, HistorySize)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		cfg, _, found, err := st.load()
		st.close()
		if err != nil || !found {
			t.Fatalf("round %d: saved configuration unreadable after kill -9: %v (found %v)", round, err, found)
		}
		if got := hostNumber(cfg); got != last && got != last+1 {
			t.Fatalf("round %d: the journal holds commit %d; last acknowledged %d", round, got, last)
		}
		if got := bindingCount(cfg); got != bindings {
			t.Fatalf("round %d: %d bindings after the kill, want %d", round, got, bindings)
		}
		t.Logf("round %d: killed after commit %d, the journal holds %d", round, last, hostNumber(cfg))
	}
}
