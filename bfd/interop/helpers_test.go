package interop

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/tools/netns"
)

// engine is a wirebeat BFD engine running in the test process with its
// transports' sockets in a namespace.
type engine struct {
	*bfd.Engine
	t      *testing.T
	ns     *netns.NS
	cancel context.CancelFunc
	done   chan struct{}
}

func startEngine(t *testing.T, ns *netns.NS, o bfd.Options) *engine {
	ctx, cancel := context.WithCancel(context.Background())
	e := &engine{Engine: bfd.NewEngine(o), t: t, ns: ns, cancel: cancel, done: make(chan struct{})}
	go func() { e.Run(ctx); close(e.done) }()
	t.Cleanup(func() { cancel(); <-e.done })
	return e
}

func (e *engine) transport(cfg transport.Config) *transport.UDP {
	e.t.Helper()
	var tr *transport.UDP
	if err := e.ns.Do(func() (err error) {
		tr, err = transport.Open(cfg, e.Engine)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = tr.Run(); close(done) }()
	e.t.Cleanup(func() { tr.Close(); <-done })
	return tr
}

func (e *engine) session(tr *transport.UDP, remote string, c bfd.SessionConfig) uint32 {
	e.t.Helper()
	c.Path = tr.Key(netip.MustParseAddr(remote))
	d, err := e.AddSession(c, tr)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *engine) info(d uint32) bfd.SessionInfo {
	i, _ := e.Session(d)
	return i
}

// waitFor polls cond every 10 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// contextUntil is a context cancelled when stop closes.
func contextUntil(stop <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-stop; cancel() }()
	return ctx
}
