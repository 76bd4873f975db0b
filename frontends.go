package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/wirebeat/wirebeat/server"
)

// frontEnd is a management listener: NETCONF, gNMI or the CLI. Each lives in
// its own package under server/ and is built by a function in a file of
// its own (frontend_<name>.go), listed in frontEndKinds.
type frontEnd interface {
	// Serve accepts connections on ln until ctx ends or Close is called.
	Serve(ctx context.Context, ln net.Listener) error
	// Close stops accepting and ends the open sessions.
	Close() error
}

// frontEndKind builds one kind of front end from the flags.
type frontEndKind struct {
	name string                // as printed: "NETCONF", "gNMI", "CLI"
	addr func(runFlags) string // the flag giving its listen address
	make func(frontEndEnv) (frontEnd, error)
}

// frontEndEnv is what a front end may use.
type frontEndEnv struct {
	srv      *server.Server
	material *material
	flags    runFlags
	log      *slog.Logger
}

// frontEndKinds are the front ends this build has, in start order.
var frontEndKinds = []frontEndKind{
	{name: "NETCONF", addr: func(f runFlags) string { return f.netconf }, make: makeNETCONF},
	{name: "gNMI", addr: func(f runFlags) string { return f.gnmi }, make: makeGNMI},
	{name: "CLI", addr: func(f runFlags) string { return f.cli }, make: makeCLI},
}

type runningFrontEnds struct {
	mu    sync.Mutex
	fes   []frontEnd
	wg    sync.WaitGroup
	close sync.Once
}

// startFrontEnds listens on every address the flags give and serves each
// front end this build has; it says which requested listeners the build
// lacks instead of pretending to listen.
func startFrontEnds(ctx context.Context, f runFlags, srv *server.Server, m *material, log *slog.Logger, stdout io.Writer) (*runningFrontEnds, error) {
	r := &runningFrontEnds{}
	have := map[string]bool{}
	for _, k := range frontEndKinds {
		have[k.name] = true
		addr := k.addr(f)
		if addr == "" {
			fmt.Fprintf(stdout, "%s: off\n", k.name)
			continue
		}
		fe, err := k.make(frontEndEnv{srv: srv, material: m, flags: f, log: log.With("frontend", k.name)})
		if err != nil {
			r.stop()
			return nil, fmt.Errorf("%s: %w", k.name, err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			r.stop()
			return nil, fmt.Errorf("%s: %w", k.name, err)
		}
		fmt.Fprintf(stdout, "%s: listening on %s\n", k.name, ln.Addr())
		srv.SetListening(strings.ToLower(k.name), ln.Addr().String())
		r.fes = append(r.fes, fe)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := fe.Serve(ctx, ln); err != nil {
				log.Error("front end stopped", "frontend", k.name, "err", err)
			}
		}()
	}
	for _, l := range []struct{ name, addr string }{{"NETCONF", f.netconf}, {"gNMI", f.gnmi}, {"CLI", f.cli}} {
		if have[l.name] {
			continue
		}
		if l.addr == "" {
			fmt.Fprintf(stdout, "%s: off\n", l.name)
			continue
		}
		fmt.Fprintf(stdout, "%s: %s requested; this build has no %s listener yet\n", l.name, l.addr, l.name)
	}
	return r, nil
}

// stop closes every front end and waits for them.
func (r *runningFrontEnds) stop() {
	r.close.Do(func() {
		r.mu.Lock()
		for _, fe := range r.fes {
			fe.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
}
