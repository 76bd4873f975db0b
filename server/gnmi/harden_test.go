package gnmi_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/server/gnmi"
	"github.com/wirebeat/wirebeat/server/internal/testelem"
)

// Tests of issue 16: what an attacker or a careless client sends is
// bounded, refused precisely, changes nothing, and an admin's request
// made meanwhile completes (its latency is logged, never asserted).

// countingListener counts the bytes the server reads from its clients.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, read: l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

// hardened is an element with the given limits, its listener counting
// the bytes read.
type hardened struct {
	*element
	read atomic.Int64
}

func startLimited(t *testing.T, lim server.Limits) *hardened {
	t.Helper()
	srv, err := server.New(server.Options{DataDir: t.TempDir(), Logger: quiet, Version: "test", Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	testelem.Edit(t, srv, func(root *gen.Device) {
		testelem.AddUsers(root, adminPass, operPass, viewPass)
		root.GetOrCreateSystem().Hostname = ygot.String("wb-test")
	})
	cert, pool := selfSigned(t)
	gs, err := gnmi.New(srv, gnmi.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hardened{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		gs.Serve(ctx, countingListener{Listener: ln, read: &h.read})
	}()
	t.Cleanup(func() { cancel(); gs.Close(); <-done })
	h.element = &element{srv: srv, gs: gs, addr: ln.Addr().String(), pool: pool}
	return h
}

// clientFrom dials from a given loopback source address (127.0.0.2 is
// another source than 127.0.0.1 for the lockout).
func (el *element) clientFrom(t testing.TB, src, user, pass string) gpb.GNMIClient {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	conn, err := grpc.NewClient(el.addr,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: el.pool, ServerName: "localhost"})),
		grpc.WithPerRPCCredentials(userPass{user, pass}),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(512<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return gpb.NewGNMIClient(conn)
}

// adminMeanwhile runs an admin Get of the hostname from another source
// while attack runs, and logs its latency. It fails the test if the
// admin's request fails.
func adminMeanwhile(t *testing.T, el *element, attack func()) {
	t.Helper()
	admin := el.clientFrom(t, "127.0.0.2", "admin", adminPass)
	// Log in once before the attack, as a management station would.
	if _, err := admin.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}}); err != nil {
		t.Fatalf("admin before the attack: %v", err)
	}
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		close(started)
		attack()
	}()
	<-started
	time.Sleep(20 * time.Millisecond)
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := admin.Get(ctx, &gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}})
	t.Logf("admin Get during the attack: %v (err %v)", time.Since(t0), err)
	if err != nil {
		t.Errorf("admin Get during the attack: %v", err)
	}
	<-done
}

func hostnameUnchanged(t *testing.T, el *element) {
	t.Helper()
	if h := el.srv.Running().GetSystem().GetHostname(); h != "wb-test" {
		t.Errorf("hostname is now %q", h)
	}
}

func descentPath(k int, leaf string) *gpb.Path {
	p := &gpb.Path{}
	for i := 0; i < k; i++ {
		p.Elem = append(p.Elem, &gpb.PathElem{Name: "..."})
	}
	p.Elem = append(p.Elem, &gpb.PathElem{Name: leaf})
	return p
}

// TestAbsurdPathsRefused: 10,000 "..." elements, 30,000 keys, a 50 MB
// element name: each is refused with INVALID_ARGUMENT before any
// matching, with a short message.
func TestAbsurdPathsRefused(t *testing.T) {
	el := startLimited(t, server.Limits{})
	view := el.clientFrom(t, "127.0.0.1", "view", viewPass)
	keys := map[string]string{}
	for i := 0; i < 30000; i++ {
		keys[fmt.Sprintf("k%d", i)] = "v"
	}
	cases := []struct {
		name string
		p    *gpb.Path
	}{
		{"10000 descents", descentPath(10000, "hostname")},
		{"30000 keys", &gpb.Path{Elem: []*gpb.PathElem{{Name: "system"}, {Name: "aaa"}, {Name: "users"}, {Name: "user", Key: keys}}}},
		{"50 MB name", &gpb.Path{Elem: []*gpb.PathElem{{Name: strings.Repeat("x", 50<<20)}}}},
		{"60 KB of key value", &gpb.Path{Elem: []*gpb.PathElem{{Name: "system"}, {Name: "aaa"}, {Name: "users"}, {Name: "user", Key: map[string]string{"name": strings.Repeat("n", 60<<10)}}}}},
	}
	for _, c := range cases {
		adminMeanwhile(t, el.element, func() {
			t0 := time.Now()
			_, err := view.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{c.p}})
			t.Logf("%s: refused in %v: %v", c.name, time.Since(t0), err)
			wantCode(t, err, codes.InvalidArgument, c.name)
			if st, _ := status.FromError(err); len(st.Message()) > 512 {
				t.Errorf("%s: error message of %d bytes echoes the request", c.name, len(st.Message()))
			}
			// The same bound on Subscribe and Set.
			sc, err := view.Subscribe(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			sc.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{Mode: gpb.SubscriptionList_ONCE, Subscription: []*gpb.Subscription{{Path: c.p}}}}})
			_, err = sc.Recv()
			wantCode(t, err, codes.InvalidArgument, c.name+" (Subscribe)")
			_, err = el.clientFrom(t, "127.0.0.1", "admin", adminPass).Set(context.Background(), &gpb.SetRequest{Delete: []*gpb.Path{c.p}})
			wantCode(t, err, codes.InvalidArgument, c.name+" (Set)")
		})
	}
	hostnameUnchanged(t, el.element)
}

// TestDescentOnce: runs of "..." select each node once, as one "..." does.
func TestDescentOnce(t *testing.T) {
	el := startLimited(t, server.Limits{})
	view := el.clientFrom(t, "127.0.0.1", "view", viewPass)
	count := func(k int) int {
		resp, err := view.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{descentPath(k, "hostname")}})
		if err != nil {
			t.Fatalf("%d descents: %v", k, err)
		}
		n := 0
		for _, nt := range resp.Notification {
			n += len(nt.Update)
		}
		return n
	}
	one := count(1)
	if one == 0 {
		t.Fatal(".../hostname selects nothing")
	}
	for _, k := range []int{2, 3, 60} {
		if n := count(k); n != one {
			t.Errorf("%d descents give %d updates, one gives %d", k, n, one)
		}
	}
	// Descents between wildcards: each node once; 30 of them (which need
	// a tree deeper than ours) answered at once.
	for _, k := range []int{4, 30} {
		p := &gpb.Path{}
		for i := 0; i < k; i++ {
			p.Elem = append(p.Elem, &gpb.PathElem{Name: "..."}, &gpb.PathElem{Name: "*"})
		}
		p.Elem = append(p.Elem[:len(p.Elem)-1], &gpb.PathElem{Name: "name"})
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		resp, err := view.Get(ctx, &gpb.GetRequest{Path: []*gpb.Path{p}})
		cancel()
		t.Logf("Get of %d descents between wildcards: %v, %v", k, time.Since(t0), err)
		if k == 30 {
			if c := status.Code(err); c != codes.NotFound && c != codes.InvalidArgument {
				t.Errorf("30 descents: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%d descents: %v", k, err)
		}
		seen := map[string]bool{}
		for _, nt := range resp.Notification {
			for _, u := range nt.Update {
				k := pathText(u.Path)
				if seen[k] {
					t.Errorf("%s selected twice", k)
				}
				seen[k] = true
			}
		}
		if len(seen) < 3 {
			t.Errorf("%d descents: %v", k, seen)
		}
	}
}

// TestLoginFloodBounded: hundreds of concurrent logins with wrong
// passwords and invented names: at most ConcurrentAuth hash checks run
// at once, the sources get locked out, and the admin (logged in before,
// from another address) is served meanwhile.
func TestLoginFloodBounded(t *testing.T) {
	lim := server.Limits{ConcurrentAuth: 2, LoginDelay: 50 * time.Millisecond}
	el := startLimited(t, lim)
	const flood = 400
	var refused, unauth atomic.Int64
	adminMeanwhile(t, el.element, func() {
		var wg sync.WaitGroup
		for i := 0; i < flood; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				user := fmt.Sprintf("nobody-%d-%s", i, strings.Repeat("z", 200))
				if i%2 == 0 {
					user = "view"
				}
				c := el.clientFrom(t, "127.0.0.1", user, "wrong")
				_, err := c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}})
				switch status.Code(err) {
				case codes.ResourceExhausted:
					refused.Add(1)
				case codes.Unauthenticated:
					unauth.Add(1)
				default:
					t.Errorf("flood login: %v", err)
				}
			}()
		}
		wg.Wait()
	})
	st := el.srv.AuthStats()
	t.Logf("flood of %d: %d refused, %d failed; gate %+v", flood, refused.Load(), unauth.Load(), st)
	if st.PeakChecks > lim.ConcurrentAuth {
		t.Errorf("%d hash checks ran at once; the bound is %d", st.PeakChecks, lim.ConcurrentAuth)
	}
	if refused.Load() == 0 {
		t.Error("no login of the flood was refused: no lockout")
	}
	// The locked-out source is refused even with the right password,
	// precisely; another source is not.
	_, err := el.clientFrom(t, "127.0.0.1", "oper", operPass).Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}})
	wantCode(t, err, codes.ResourceExhausted, "locked-out source")
	if err != nil && !strings.Contains(err.Error(), "too many failed logins") {
		t.Errorf("lockout error does not say why: %v", err)
	}
	if _, err := el.clientFrom(t, "127.0.0.3", "oper", operPass).Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}}); err != nil {
		t.Errorf("other source: %v", err)
	}
	hostnameUnchanged(t, el.element)
}

// TestFailedLoginDelayed: a wrong password is answered no sooner than the
// login delay (a lower bound, which a loaded machine cannot break).
func TestFailedLoginDelayed(t *testing.T) {
	el := startLimited(t, server.Limits{LoginDelay: 300 * time.Millisecond})
	c := el.clientFrom(t, "127.0.0.1", "admin", "wrong")
	t0 := time.Now()
	_, err := c.Get(context.Background(), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/system/hostname")}})
	d := time.Since(t0)
	wantCode(t, err, codes.Unauthenticated, "wrong password")
	t.Logf("failed login answered after %v", d)
	if d < 300*time.Millisecond {
		t.Errorf("failed login answered after %v, before the 300ms delay", d)
	}
}

// TestHugeSetNotReadBeforeLogin: a 100 MB Set with a wrong password is
// refused without the server reading it; with the right password it is
// refused as larger than MaxMessage.
func TestHugeSetNotReadBeforeLogin(t *testing.T) {
	el := startLimited(t, server.Limits{LoginDelay: 10 * time.Millisecond})
	huge := &gpb.SetRequest{Update: []*gpb.Update{{
		Path: path(t, "/system/hostname"),
		Val:  &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: strings.Repeat("h", 100<<20)}},
	}}}
	adminMeanwhile(t, el.element, func() {
		before := el.read.Load()
		_, err := el.clientFrom(t, "127.0.0.1", "admin", "wrong").Set(context.Background(), huge)
		wantCode(t, err, codes.Unauthenticated, "100 MB Set, wrong password")
		read := el.read.Load() - before
		t.Logf("server read %d bytes of a 100 MB Set before refusing the login", read)
		if read > 32<<20 {
			t.Errorf("server read %d bytes of a Set whose login failed", read)
		}
	})
	_, err := el.clientFrom(t, "127.0.0.4", "admin", adminPass).Set(context.Background(), huge)
	wantCode(t, err, codes.ResourceExhausted, "100 MB Set, right password")
	hostnameUnchanged(t, el.element)
}

// TestSessionsPerUser: a viewer cannot hold more than SessionsPerUser
// RPCs open, nor more subscriptions than SubscriptionsPerUser; the admin
// still gets in.
func TestSubscriptionsPerUser(t *testing.T) {
	el := startLimited(t, server.Limits{SubscriptionsPerUser: 3, SessionsPerUser: 8})
	view := el.clientFrom(t, "127.0.0.1", "view", viewPass)
	l := &gpb.SubscriptionList{Mode: gpb.SubscriptionList_STREAM, Subscription: []*gpb.Subscription{{Path: path(t, "/system/hostname"), Mode: gpb.SubscriptionMode_ON_CHANGE}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 3; i++ {
		sc, err := view.Subscribe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sc.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: l}})
		for {
			r, err := sc.Recv()
			if err != nil {
				t.Fatalf("subscription %d: %v", i, err)
			}
			if r.GetSyncResponse() {
				break
			}
		}
	}
	sc, err := view.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sc.Recv()
	wantCode(t, err, codes.ResourceExhausted, "fourth subscription")
	adminMeanwhile(t, el.element, func() {})
}

// TestSessionEndsWhenUserDeleted: a subscription of a user who is deleted
// ends with PERMISSION_DENIED; one whose role changes too.
func TestSessionEndsWhenUserDeleted(t *testing.T) {
	el := startLimited(t, server.Limits{})
	boot := &server.Session{User: "system", Role: server.RoleAdmin, Transport: "system"}
	for _, c := range []struct {
		user, pass string
		change     func(*gen.Device)
	}{
		{"view", viewPass, func(root *gen.Device) { root.GetSystem().GetAaa().GetUsers().DeleteUser("view") }},
		{"oper", operPass, func(root *gen.Device) {
			root.GetSystem().GetAaa().GetUsers().GetUser("oper").Role = gen.WirebeatSystem_UserRole_viewer
		}},
	} {
		cl := el.clientFrom(t, "127.0.0.1", c.user, c.pass)
		sc, err := cl.Subscribe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sc.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{Mode: gpb.SubscriptionList_STREAM,
			Subscription: []*gpb.Subscription{{Path: path(t, "/bfd"), Mode: gpb.SubscriptionMode_ON_CHANGE}}}}})
		for {
			r, err := sc.Recv()
			if err != nil {
				t.Fatalf("%s: %v", c.user, err)
			}
			if r.GetSyncResponse() {
				break
			}
		}
		if err := el.srv.Edit(boot, server.Running, func(root *gen.Device) error { c.change(root); return nil }); err != nil {
			t.Fatal(err)
		}
		for {
			_, err := sc.Recv()
			if err != nil {
				wantCode(t, err, codes.PermissionDenied, c.user+" changed")
				t.Logf("%s: %v", c.user, err)
				break
			}
		}
	}
}

// TestSampleSubscriberBoundedInBytes: a SAMPLE subscriber of a large
// subtree that never reads is cut off once QueueBytes are queued, not
// after thousands of samples; the admin is served meanwhile.
func TestSampleSubscriberBoundedInBytes(t *testing.T) {
	el := startLimited(t, server.Limits{QueueBytes: 1 << 20})
	boot := &server.Session{User: "system", Role: server.RoleAdmin, Transport: "system"}
	if err := el.srv.Edit(boot, server.Running, func(root *gen.Device) error {
		ps := root.GetOrCreateBfd().GetOrCreateProfiles()
		for i := 0; i < 3000; i++ {
			ps.GetOrCreateProfile(fmt.Sprintf("profile-%d", i)).DetectionMultiplier = ygot.Uint8(3)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	view := el.clientFrom(t, "127.0.0.1", "view", viewPass)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc, err := view.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{
		Mode: gpb.SubscriptionList_STREAM, Encoding: gpb.Encoding_JSON_IETF,
		Subscription: []*gpb.Subscription{{Path: path(t, "/bfd/profiles"), Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: uint64(10 * time.Millisecond)}},
	}}})
	// Never read for a while: samples pile up on the server.
	adminMeanwhile(t, el.element, func() { time.Sleep(3 * time.Second) })
	var got int
	for {
		r, err := sc.Recv()
		if err != nil {
			wantCode(t, err, codes.ResourceExhausted, "slow SAMPLE subscriber")
			t.Logf("cut off after %d bytes received: %v", got, err)
			break
		}
		got += proto.Size(r)
		if got > 256<<20 {
			t.Fatalf("slow SAMPLE subscriber not cut off after %d bytes", got)
		}
	}
	// What it got is the queue plus what the transport buffers.
	if got > 1<<20+32<<20 {
		t.Errorf("a subscriber that did not read received %d bytes", got)
	}
}

// TestPasswordHashesOnlyForAdmins: by default only admins read the
// password hashes (RFC 8341's default for them), on Get and Subscribe.
func TestPasswordHashesOnlyForAdmins(t *testing.T) {
	el := startLimited(t, server.Limits{})
	for _, c := range []struct {
		user, pass string
		sees       bool
	}{{"admin", adminPass, true}, {"oper", operPass, false}, {"view", viewPass, false}} {
		cl := el.clientFrom(t, "127.0.0.1", c.user, c.pass)
		for _, typ := range []gpb.GetRequest_DataType{gpb.GetRequest_ALL, gpb.GetRequest_CONFIG} {
			resp, err := cl.Get(context.Background(), &gpb.GetRequest{Type: typ, Encoding: gpb.Encoding_JSON_IETF, Path: []*gpb.Path{path(t, "/system/aaa/users")}})
			if err != nil {
				t.Fatalf("%s: %v", c.user, err)
			}
			got := fmt.Sprint(resp)
			if strings.Contains(got, "$2a$") != c.sees {
				t.Errorf("%s Get %v: hashes seen %v, want %v", c.user, typ, !c.sees, c.sees)
			}
		}
		sc, err := cl.Subscribe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sc.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{Mode: gpb.SubscriptionList_ONCE,
			Subscription: []*gpb.Subscription{{Path: path(t, "/system/aaa/users")}}}}})
		var got strings.Builder
		for {
			r, err := sc.Recv()
			if err != nil {
				break
			}
			got.WriteString(fmt.Sprint(r))
		}
		if strings.Contains(got.String(), "$2a$") != c.sees {
			t.Errorf("%s Subscribe: hashes seen %v, want %v", c.user, !c.sees, c.sees)
		}
	}
	if el.srv.Running().GetSystem().GetAaa().GetUsers().GetUser("view").Password == nil {
		t.Error("the stored hash itself was removed")
	}
}
