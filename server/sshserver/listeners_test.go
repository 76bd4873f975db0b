package sshserver

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// TestListenersClose: Close ends what Serve started on two listeners,
// ends the sessions, waits for the connection goroutines, and only once;
// Serve after Close refuses.
func TestListenersClose(t *testing.T) {
	var l Listeners
	ended := 0
	closeFront := func() error { l.Close(func() { ended++ }); return nil }
	conns := make(chan net.Conn, 2)
	release := make(chan struct{})
	finished := make(chan struct{}, 2)
	serve := func(c net.Conn) {
		conns <- c
		<-release
		c.Close()
		finished <- struct{}{}
	}
	served := make(chan error, 2)
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		go func() { served <- l.Serve(context.Background(), ln, closeFront, serve) }()
	}
	for _, a := range addrs {
		c, err := net.Dial("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		<-conns
	}
	closed := make(chan struct{})
	go func() { _ = closeFront(); close(closed) }()
	for range 2 {
		if err := <-served; err != nil {
			t.Fatalf("Serve after Close: %v, want nil", err)
		}
	}
	select {
	case <-closed:
		t.Fatal("Close returned before the connection goroutines ended")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	if len(finished) != 2 || ended != 1 || !l.Closed() {
		t.Fatalf("finished %d, sessions ended %d times, closed %v", len(finished), ended, l.Closed())
	}
	if l.Close(func() { ended++ }) || ended != 1 {
		t.Fatal("a second Close did something")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := l.Serve(context.Background(), ln, closeFront, serve); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve on a closed front end: %v", err)
	}
}

// TestListenersContext: the end of Serve's context closes the front end.
func TestListenersContext(t *testing.T) {
	var l Listeners
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- l.Serve(ctx, ln, func() error { l.Close(func() {}); return nil }, func(c net.Conn) { c.Close() })
	}()
	cancel()
	if err := <-done; err != nil || !l.Closed() {
		t.Fatalf("Serve returned %v, closed %v", err, l.Closed())
	}
}
