// Package testenv tells tests what this machine lets them do: which real
// tools are installed and whether they run as root. As root a missing tool
// is a failure (make test installs them first); as non-root the test is
// skipped with a "SKIP: ... needs root" line, as the project's test contract
// says.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// IsRoot reports whether the tests run as root.
func IsRoot() bool { return os.Geteuid() == 0 }

// Tool returns the path of command name, from Debian package pkg. Without
// it the test fails as root and is skipped otherwise.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if IsRoot() {
		t.Fatalf("%s not found: install Debian package %s (make deps does)", name, pkg)
	}
	Skip(t, "%s not installed; installing Debian package %s needs root", name, pkg)
	return ""
}

// RequireRoot skips the test when not root, saying why.
func RequireRoot(t testing.TB, what string) {
	t.Helper()
	if !IsRoot() {
		Skip(t, "%s needs root", what)
	}
}

// Skip skips the test with a line starting "SKIP:", which make test shows
// even without -v.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Skip("SKIP: " + fmt.Sprintf(format, args...))
}
