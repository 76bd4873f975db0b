package server

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// seal proves that committed trees are immutable. Correctness rests on it:
// validation skips what equals running by pointer, the diff skips shared
// subtrees, the JSON cache reuses the text of entries by pointer, and an
// adapter or front end that wrote into running would corrupt all three,
// silently. In test binaries the core fingerprints running at each commit
// and checks the fingerprint before the next commit and at Close, so any
// in-place write fails the test that made it. Benchmarks and the element
// itself skip the cost.
type seal struct {
	on   bool
	root *gen.Device
	sum  uint64
}

// sealing reports whether this process checks committed trees: test
// binaries do, unless they run benchmarks or WIREBEAT_TREESEAL=0.
func sealing() bool {
	if !testing.Testing() || os.Getenv("WIREBEAT_TREESEAL") == "0" {
		return false
	}
	f := flag.Lookup("test.bench")
	return f == nil || f.Value.String() == ""
}

// set records the tree just committed.
func (s *seal) set(root *gen.Device) {
	if s.on {
		s.root, s.sum = root, schema.Fingerprint(root)
	}
}

// verify reports a committed tree written in place since set.
func (s *seal) verify() error {
	if !s.on || s.root == nil || schema.Fingerprint(s.root) == s.sum {
		return nil
	}
	s.sum = schema.Fingerprint(s.root) // report each write once
	return fmt.Errorf("the committed running configuration was modified in place since its commit: committed trees are immutable")
}

// VerifyCommitted reports whether running was modified in place since it
// was committed (in test binaries; always nil otherwise). Tests of
// packages that handle trees call it, or Close, when they end.
func (s *Server) VerifyCommitted() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seal.verify()
}
