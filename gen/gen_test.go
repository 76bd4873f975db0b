package gen

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// The committed structs are what the generator makes of the committed YANG:
// a YANG change without `make gen` fails here.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	out := filepath.Join(t.TempDir(), "wirebeat.go")
	cmd := exec.Command("bash", "../tools/gen.sh", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tools/gen.sh: %v\n%s", err, msg)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("wirebeat.go")
	if err != nil {
		t.Fatal(err)
	}
	// The header names the generator by its path in the module cache,
	// which differs between machines.
	cache := regexp.MustCompile(`\S*/pkg/mod/`)
	if !bytes.Equal(cache.ReplaceAll(fresh, nil), cache.ReplaceAll(committed, nil)) {
		t.Fatal("gen/wirebeat.go is stale: run make gen and commit the result")
	}
}
