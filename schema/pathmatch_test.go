package schema

import (
	"context"
	"errors"
	"fmt"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

func usersTree(n int) *gen.Device {
	root := &gen.Device{}
	users := root.GetOrCreateSystem().GetOrCreateAaa().GetOrCreateUsers()
	for i := 0; i < n; i++ {
		u := users.GetOrCreateUser(fmt.Sprintf("u%d", i))
		u.Password = ygot.String("$2a$10$x")
	}
	return root
}

func elems(names ...string) []*gpb.PathElem {
	var out []*gpb.PathElem
	for _, n := range names {
		out = append(out, &gpb.PathElem{Name: n})
	}
	return out
}

// TestMatchEachNodeOnce: descents separated by wildcards reach a node in
// several ways; it is matched once (issue 16: k "..." gave k copies).
func TestMatchEachNodeOnce(t *testing.T) {
	root := usersTree(3)
	for _, p := range [][]string{
		{"...", "name"},
		{"...", "*", "...", "name"},
		{"...", "*", "...", "*", "...", "name"},
		{"...", "*", "...", "*", "...", "*", "...", "*", "...", "name"},
	} {
		m, err := MatchPath(root, elems(p...))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, x := range m {
			k := PathString(&gpb.Path{Elem: x.Path})
			if seen[k] {
				t.Errorf("%v: %s matched twice", p, k)
			}
			seen[k] = true
		}
		if len(seen) != 3 {
			t.Errorf("%v: %d matches, want 3: %v", p, len(seen), seen)
		}
	}
}

// TestMatchHonoursCancellation: a match over a large tree stops when its
// context ends.
func TestMatchHonoursCancellation(t *testing.T) {
	root := usersTree(5000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := MatchPathContext(ctx, root, elems("...", "*", "...", "name"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled match: %v", err)
	}
	if m, err := MatchPathContext(context.Background(), root, elems("...", "*", "...", "name")); err != nil || len(m) != 5000 {
		t.Errorf("match: %d, %v", len(m), err)
	}
}

// BenchmarkMatchManyDescents: a path of 30 descents with wildcards
// between them, over 1,000 users.
func BenchmarkMatchManyDescents(b *testing.B) {
	root := usersTree(1000)
	var p []string
	for i := 0; i < 30; i++ {
		p = append(p, "...", "*")
	}
	p = append(p, "...", "name")
	e := elems(p...)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := MatchPath(root, e); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCheckPathManyDescents: checking a path of many descents against the
// schema is memoized too.
func TestCheckPathManyDescents(t *testing.T) {
	var p []string
	for i := 0; i < 30; i++ {
		p = append(p, "...", "*")
	}
	p = append(p, "...", "no-such-leaf")
	done := make(chan error, 1)
	go func() { done <- CheckPath(elems(p...)) }()
	if err := <-done; err == nil {
		t.Error("a path to nothing passes")
	}
}
