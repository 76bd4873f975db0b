// Package gobuild builds Go commands for tests that run them as
// processes (the wirebeat element, reference clients pinned in go.mod):
// each package once per test binary, however many tests ask for it.
package gobuild

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
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
		// The directory outlives every test of the binary: no test
		// owns it, and the next build makes a new one.
		dir, err := os.MkdirTemp("", "gobuild-"+path.Base(pkg)+"-")
		if err != nil {
			r.err = err
			return
		}
		bin := filepath.Join(dir, path.Base(pkg))
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			r.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
			return
		}
		r.bin = bin
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.bin
}
