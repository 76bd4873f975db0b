package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLooseKeyModesRefused: a datadir private key that others may read is
// refused with a message saying how to fix it; at 0600 it is used.
func TestLooseKeyModesRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadMaterial(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{hostKeyFile, keyFile} {
		p := filepath.Join(dir, name)
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := loadMaterial(dir)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("%s at 0644: %v", name, err)
		}
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadMaterial(dir); err != nil {
			t.Errorf("%s at 0600: %v", name, err)
		}
	}
}
