// Package gobuild builds Go commands for tests that run them as
// processes (the wirebeat element, reference clients pinned in go.mod):
// each package once per test binary, however many tests ask for it.
package gobuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type result struct {
	once sync.Once
	bin  string
	err  error
}

var (
	mu    sync.Mutex
	built = map[string]*result{}
)

// Binary returns the path of the command built from the package pkg (an
// import path of this module or of one it requires); the first call
// builds it, later calls wait for that build and share it. A failed
// build fails every test that asks.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	mu.Lock()
	r := built[pkg]
	if r == nil {
		r = &result{}
		built[pkg] = r
	}
	mu.Unlock()
	r.once.Do(func() {
		// One directory for every test binary of the machine, so that
		// runs do not pile up copies in /tmp: each build goes to a file
		// of its own and is renamed over the shared name, which leaves
		// a process already running the old file undisturbed.
		dir := filepath.Join(os.TempDir(), "wirebeat-gobuild")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			r.err = err
			return
		}
		// Named by the package and by the checkout it is built from:
		// two worktrees testing at once must not run each other's build.
		name := strings.ReplaceAll(strings.Trim(pkg, "/."), "/", "_") + "-" + checkoutTag()
		tmp, err := os.CreateTemp(dir, name+".*.tmp")
		if err != nil {
			r.err = err
			return
		}
		tmp.Close()
		defer os.Remove(tmp.Name()) // gone after the rename; left only by a failed build
		if out, err := exec.Command("go", "build", "-o", tmp.Name(), pkg).CombinedOutput(); err != nil {
			r.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
			return
		}
		bin := filepath.Join(dir, name)
		if err := os.Rename(tmp.Name(), bin); err != nil {
			r.err = err
			return
		}
		r.bin = bin
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.bin
}

// checkoutTag names the module checkout the test runs in (the directory
// holding go.mod above the working directory) by a short hash.
func checkoutTag() string {
	dir, err := os.Getwd()
	if err != nil {
		return "unknown"
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir = d
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:6])
}
