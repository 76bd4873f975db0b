// Package vectors finds the lwAFTR conformance vectors, which live beside
// the repository (../shared/conformance/lwaftr from the directory holding
// go.mod) and are never copied into it.
package vectors

import (
	"os"
	"path/filepath"
)

// Dir returns the vectors directory, or "" when it is absent.
func Dir() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			v := filepath.Join(filepath.Dir(d), "shared", "conformance", "lwaftr")
			if _, err := os.Stat(filepath.Join(v, "cases.tsv")); err == nil {
				return v
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}
