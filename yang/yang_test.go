package yang

// The tests lint the modules with yanglint and check that what the element
// stores is valid RFC 7951 data for them in the eyes of an independent
// implementation (libyang).

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/tools/testenv"
)

func modules(t *testing.T) []string {
	t.Helper()
	mods, err := filepath.Glob("*.yang")
	if err != nil || len(mods) != 6 {
		t.Fatalf("want the five wirebeat modules and ietf-netconf-acm, found %v (%v)", mods, err)
	}
	return mods
}

// Every module passes yanglint with no output at all: no error, no warning.
func TestYanglintClean(t *testing.T) {
	yanglint := testenv.Tool(t, "yanglint", "libyang2-tools")
	for _, m := range modules(t) {
		out, err := exec.Command(yanglint, "-p", ".", m).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("yanglint %s: %v\n%s", m, err, out)
		}
	}
	out, err := exec.Command(yanglint, append([]string{"-p", "."}, modules(t)...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("yanglint all modules: %v\n%s", err, out)
	}
}

// ygot's YANG parser ignores refine statements, so a refined mandatory or
// default would be enforced by yanglint but not by the element. Such
// properties are written on the node itself.
func TestNoRefineOfMandatoryOrDefault(t *testing.T) {
	refine := regexp.MustCompile(`(?s)refine\s+"?[\w\-/:]+"?\s*\{`)
	for _, m := range modules(t) {
		src, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, loc := range refine.FindAllIndex(src, -1) {
			body := block(src[loc[1]-1:])
			if regexp.MustCompile(`(?m)^\s*(mandatory|default|min-elements|max-elements)\b`).Match(body) {
				t.Errorf("%s: refine at byte %d changes a constraint ygot would ignore", m, loc[0])
			}
		}
	}
}

// block returns the brace-balanced block src starts with.
func block(src []byte) []byte {
	depth := 0
	for i, c := range src {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return src[:i+1]
			}
		}
	}
	return src
}

// A configuration using every module goes through the element's commit
// pipeline at boot, and the startup file the element writes is valid
// configuration data for libyang.
func TestStoredConfigIsValidForYanglint(t *testing.T) {
	yanglint := testenv.Tool(t, "yanglint", "libyang2-tools")
	src, err := os.ReadFile("testdata/full-config.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv, err := server.New(server.Options{DataDir: dir, Initial: src})
	if err != nil {
		t.Fatalf("element refused the sample configuration: %v", err)
	}
	// copy-config running to startup writes the startup file.
	if err := srv.Replace(&server.Session{User: "test", Role: server.RoleAdmin, Transport: "test"}, server.Startup, srv.Running()); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	stored := filepath.Join(dir, "startup.json")
	data, _ := os.ReadFile(stored)
	if strings.Contains(string(data), "admin-password-for-tests") {
		t.Error("stored configuration holds a clear-text password")
	}
	args := append([]string{"-t", "config", "-p", "."}, modules(t)...)
	out, err := exec.Command(yanglint, append(args, stored)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("yanglint rejects the stored configuration: %v\n%s\n%s", err, out, data)
	}
}
