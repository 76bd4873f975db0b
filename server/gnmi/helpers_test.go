package gnmi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
	"github.com/wirebeat/wirebeat/server/gnmi"
	"github.com/wirebeat/wirebeat/server/internal/testelem"
)

// Users of the test element, one per role.
const (
	adminPass = "admin-secret"
	operPass  = "oper-secret"
	viewPass  = "view-secret"
)

// element is a running element with the gNMI front end on loopback.
type element struct {
	srv    *server.Server
	gs     *gnmi.Server
	addr   string
	pool   *x509.CertPool
	engine *bfdStandIn
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start runs an element with users admin, oper and view and a BFD
// stand-in engine, and its gNMI server.
func start(t testing.TB, tune ...func(*gnmi.Options)) *element {
	t.Helper()
	eng := newBFDStandIn()
	srv, err := server.New(server.Options{DataDir: t.TempDir(), Subsystems: []server.Subsystem{eng}, Logger: quiet, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	testelem.Edit(t, srv, func(root *gen.Device) {
		testelem.AddUsers(root, adminPass, operPass, viewPass)
		root.GetOrCreateSystem().Hostname = ygot.String("wb-test")
		p := root.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("default")
		p.DetectionMultiplier = ygot.Uint8(3)
	})
	cert, pool := selfSigned(t)
	opts := gnmi.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Logger: quiet}
	for _, f := range tune {
		f(&opts)
	}
	gs, err := gnmi.New(srv, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := gs.Serve(ctx, ln); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); gs.Close(); <-done })
	return &element{srv: srv, gs: gs, addr: ln.Addr().String(), pool: pool, engine: eng}
}

// client dials the element as user with password pass.
func (el *element) client(t testing.TB, user, pass string) gpb.GNMIClient {
	t.Helper()
	conn, err := grpc.NewClient(el.addr,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: el.pool, ServerName: "localhost"})),
		grpc.WithPerRPCCredentials(userPass{user, pass}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(512<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return gpb.NewGNMIClient(conn)
}

type userPass struct{ user, pass string }

func (u userPass) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"username": u.user, "password": u.pass}, nil
}
func (userPass) RequireTransportSecurity() bool { return true }

func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wirebeat test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}

// bfdStandIn stands in for the BFD engine, which is not written yet: it
// keeps a state per configured single-hop session, renders it into the
// tree on read and publishes state changes to the hub as the engine will.
type bfdStandIn struct {
	mu       sync.Mutex
	sink     events.Sink
	sessions map[gen.WirebeatBfd_Bfd_SingleHop_Session_Key]*standInState
}

type standInState struct {
	state gen.E_WirebeatBfd_BfdState
	rx    uint64
}

func newBFDStandIn() *bfdStandIn {
	return &bfdStandIn{sink: events.Discard{}, sessions: map[gen.WirebeatBfd_Bfd_SingleHop_Session_Key]*standInState{}}
}

func (*bfdStandIn) Name() string                    { return "bfd-stand-in" }
func (*bfdStandIn) Owns() []*gpb.Path               { return []*gpb.Path{{Elem: []*gpb.PathElem{{Name: "bfd"}}}} }
func (*bfdStandIn) Prepare(*schema.ChangeSet) error { return nil }
func (*bfdStandIn) Abort(*schema.ChangeSet)         {}
func (b *bfdStandIn) Attach(sink events.Sink)       { b.sink = sink }
func (b *bfdStandIn) Apply(cs *schema.ChangeSet) {
	new := cs.New
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := map[gen.WirebeatBfd_Bfd_SingleHop_Session_Key]*standInState{}
	var configured map[gen.WirebeatBfd_Bfd_SingleHop_Session_Key]*gen.WirebeatBfd_Bfd_SingleHop_Session
	if sh := new.GetBfd().GetSingleHop(); sh != nil {
		configured = sh.Session
	}
	for k := range configured {
		st := b.sessions[k]
		if st == nil {
			st = &standInState{state: gen.WirebeatBfd_BfdState_down}
		}
		keep[k] = st
	}
	b.sessions = keep
}

func (b *bfdStandIn) State(root *gen.Device, _ []*gpb.Path) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, st := range b.sessions {
		s := root.GetOrCreateBfd().GetOrCreateSingleHop().GetOrCreateSession(k.Interface, k.DestAddr).GetOrCreateState()
		s.LocalState = st.state
		s.GetOrCreateCounters().RxPackets = ygot.Uint64(st.rx)
	}
	return nil
}

func sessionPath(ifname, dest string, leaf ...string) *gpb.Path {
	p := &gpb.Path{Elem: []*gpb.PathElem{{Name: "bfd"}, {Name: "single-hop"}, {Name: "session", Key: map[string]string{"interface": ifname, "dest-addr": dest}}}}
	for _, l := range leaf {
		p.Elem = append(p.Elem, &gpb.PathElem{Name: l})
	}
	return p
}

// setState changes a session's state and publishes it, as the engine does
// when a packet moves the state machine.
func (b *bfdStandIn) setState(ifname, dest string, st gen.E_WirebeatBfd_BfdState) {
	b.mu.Lock()
	if s := b.sessions[gen.WirebeatBfd_Bfd_SingleHop_Session_Key{Interface: ifname, DestAddr: dest}]; s != nil {
		s.state = st
	}
	b.mu.Unlock()
	b.sink.Publish(events.Event{
		Time: time.Now(), Kind: events.StateChange,
		Updates: []events.Update{{Path: sessionPath(ifname, dest, "state", "local-state"), Value: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: st.String()}}}},
	})
}

// count sets a session's rx-packets counter, which is sampled, not pushed.
func (b *bfdStandIn) count(ifname, dest string, rx uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sessions[gen.WirebeatBfd_Bfd_SingleHop_Session_Key{Interface: ifname, DestAddr: dest}]; s != nil {
		s.rx = rx
	}
}

// addSessions configures single-hop sessions eth0/192.0.2.1.. directly.
func (el *element) addSessions(t testing.TB, n int) {
	t.Helper()
	boot := &server.Session{User: "system", Role: server.RoleAdmin, Transport: "system"}
	err := el.srv.EditTx(boot, server.Running, func(tx *schema.Tx) error {
		for i := 0; i < n; i++ {
			s, err := tx.Get(sessionPath("eth0", addrOf(i)), true)
			if err != nil {
				return err
			}
			s.(*gen.WirebeatBfd_Bfd_SingleHop_Session).Profile = ygot.String("default")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func addrOf(i int) string {
	return net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).String()
}
