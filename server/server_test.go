package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// recorder is a test subsystem that keeps, as JSON, the /bfd configuration
// it was last applied, so a test can see exactly what an engine holds.
type recorder struct {
	name     string
	mu       sync.Mutex
	applied  string
	applies  int
	prepares int
	aborts   int
	failOn   func(new *gen.Device) error // Prepare fails when it returns an error
	sink     events.Sink
	onApply  func(sink events.Sink) // called by Apply, to raise events
}

func (r *recorder) Name() string                         { return r.name }
func (r *recorder) Attach(s events.Sink)                 { r.sink = s }
func (r *recorder) State(*gen.Device, []*gpb.Path) error { return nil }
func (r *recorder) Owns() []*gpb.Path {
	return []*gpb.Path{{Elem: []*gpb.PathElem{{Name: "bfd"}}}, {Elem: []*gpb.PathElem{{Name: "system"}}}}
}

func (r *recorder) Prepare(cs *schema.ChangeSet) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prepares++
	if r.failOn != nil {
		return r.failOn(cs.New)
	}
	return nil
}

func (r *recorder) Abort(*schema.ChangeSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aborts++
}

func (r *recorder) Apply(cs *schema.ChangeSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	js, err := schema.EncodeJSON(&gen.Device{Bfd: cs.New.Bfd, System: cs.New.System})
	if err != nil {
		panic(err)
	}
	r.applied = string(js)
	r.applies++
	if r.onApply != nil {
		r.onApply(r.sink)
	}
}

func (r *recorder) snapshot() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied, r.applies
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestServer(t *testing.T, dir string, subs ...Subsystem) *Server {
	t.Helper()
	s, err := New(Options{DataDir: dir, Subsystems: subs, Logger: quiet, Version: "test"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

var admin = &Session{ID: 1, User: "root", Role: RoleAdmin, Transport: "test"}

func setProfile(name string, mult uint8) func(*gen.Device) error {
	return func(root *gen.Device) error {
		p := root.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile(name)
		p.DetectionMultiplier = ygot.Uint8(mult)
		return nil
	}
}

func runningJSON(t *testing.T, s *Server) string {
	t.Helper()
	js, err := schema.EncodeJSON(s.Running())
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

// A commit whose second subsystem refuses it in Prepare leaves running,
// every subsystem, the startup file and the history exactly as before: the
// first subsystem was prepared and aborted, and no engine was applied
// anything, so there is nothing to revert.
func TestPrepareFailureLeavesEveryEngineUntouched(t *testing.T) {
	dir := t.TempDir()
	first := &recorder{name: "first"}
	second := &recorder{name: "second"}
	s := newTestServer(t, dir, first, second)

	if err := s.Edit(admin, Running, setProfile("fast", 3)); err != nil {
		t.Fatalf("first commit: %v", err)
	}
	beforeRunning := runningJSON(t, s)
	beforeFirst, firstApplies := first.snapshot()
	_, secondApplies := second.snapshot()
	beforeDisk := diskState(t, dir)
	beforeHist, _ := s.History()
	sub := s.Hub().Subscribe(16, nil)
	defer sub.Close()

	second.failOn = func(new *gen.Device) error {
		if new.GetBfd().GetProfiles().GetProfile("fast").GetDetectionMultiplier() == 5 {
			return schema.Errorf(schema.TagInvalidValue, &gpb.Path{Elem: []*gpb.PathElem{{Name: "bfd"}, {Name: "profiles"},
				{Name: "profile", Key: map[string]string{"name": "fast"}}, {Name: "detection-multiplier"}}}, "engine refused")
		}
		return nil
	}
	err := s.Edit(admin, Running, setProfile("fast", 5))
	if err == nil {
		t.Fatal("commit succeeded although the second subsystem refused it")
	}
	e := schema.AsError(err)
	if e.Tag != schema.TagInvalidValue || !strings.Contains(err.Error(), "second") ||
		schema.PathString(e.Path) != "/bfd/profiles/profile[name=fast]/detection-multiplier" {
		t.Errorf("error = %v (path %s), want the subsystem's invalid-value at its path", err, schema.PathString(e.Path))
	}
	if got := runningJSON(t, s); got != beforeRunning {
		t.Errorf("running changed:\n%s\nwant\n%s", got, beforeRunning)
	}
	first.mu.Lock()
	fa, fApplies, fAborts := first.applied, first.applies, first.aborts
	first.mu.Unlock()
	if fa != beforeFirst || fApplies != firstApplies {
		t.Errorf("first subsystem was applied the refused commit (%d applies, was %d)", fApplies, firstApplies)
	}
	if fAborts != 1 {
		t.Errorf("first subsystem aborted %d times, want 1", fAborts)
	}
	if _, n := second.snapshot(); n != secondApplies {
		t.Errorf("second subsystem applied %d times, was %d", n, secondApplies)
	}
	if diskState(t, dir) != beforeDisk {
		t.Error("the saved configuration changed by a failed commit")
	}
	afterHist, _ := s.History()
	if len(afterHist) != len(beforeHist) || afterHist[0].ID != beforeHist[0].ID {
		t.Errorf("history changed: %v -> %v", beforeHist, afterHist)
	}
	select {
	case e := <-sub.C:
		t.Errorf("event published for a failed commit: %+v", e)
	default:
	}
}

// A subsystem's refusal without a path is reported at the subtree it
// owns, so NETCONF always has an error-path.
func TestEngineErrorAlwaysHasPath(t *testing.T) {
	r := &recorder{name: "plain", failOn: func(new *gen.Device) error {
		if new.GetBfd().GetProfiles().GetProfile("x") != nil {
			return errors.New("no")
		}
		return nil
	}}
	s := newTestServer(t, t.TempDir(), r)
	err := s.Edit(admin, Running, setProfile("x", 3))
	if e := schema.AsError(err); e == nil || schema.PathString(e.Path) != "/bfd" || e.Tag != schema.TagInvalidValue {
		t.Fatalf("error = %v, want invalid-value at /bfd", err)
	}
}

// Events an engine raises while a commit is applied reach subscribers
// after the commit's config-change event (issue 17).
func TestEngineEventsFollowConfigChange(t *testing.T) {
	r := &recorder{name: "eng"}
	s := newTestServer(t, t.TempDir(), r)
	r.onApply = func(sink events.Sink) {
		sink.Publish(events.Event{Kind: events.StateChange, Name: "raised-in-apply"})
	}
	sub := s.Hub().Subscribe(16, nil)
	defer sub.Close()
	if err := s.Edit(admin, Running, setProfile("p", 3)); err != nil {
		t.Fatal(err)
	}
	var kinds []events.Kind
	for len(kinds) < 2 {
		select {
		case e := <-sub.C:
			kinds = append(kinds, e.Kind)
		case <-time.After(5 * time.Second):
			t.Fatalf("events so far: %v", kinds)
		}
	}
	if kinds[0] != events.ConfigChange || kinds[1] != events.StateChange {
		t.Fatalf("events in order %v, want config-change then state-change", kinds)
	}
}

// A one-leaf edit through a transaction next to a large table yields one
// change, found without comparing the table's entries.
func TestOneLeafEditOneChange(t *testing.T) {
	r := &recorder{name: "eng"}
	var seen []schema.Change
	sw := &changeSpy{owns: "softwire", got: &seen}
	s := newTestServer(t, t.TempDir(), r, sw)
	if err := s.Edit(admin, Running, func(root *gen.Device) error { addBindings(root, 5000); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 5000 {
		t.Fatalf("table creation: %d changes, want 5000", len(seen))
	}
	seen = nil
	path := &gpb.Path{Elem: []*gpb.PathElem{{Name: "softwire"}, {Name: "lwaftr"}, {Name: "binding-table"},
		{Name: "softwire", Key: map[string]string{"ipv4": "10.0.0.1", "psid": "5"}}}}
	if err := s.EditTx(admin, Running, func(tx *schema.Tx) error {
		n, err := tx.Get(path, false)
		if err != nil {
			return err
		}
		n.(*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire).B4Ipv6 = ygot.String("2001:db8::99")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || schema.PathString(seen[0].Path) != "/softwire/lwaftr/binding-table/softwire[ipv4=10.0.0.1][psid=5]/b4-ipv6" ||
		seen[0].Op != schema.OpReplace || *seen[0].New.(*string) != "2001:db8::99" {
		t.Fatalf("changes = %+v", seen)
	}
}

// changeSpy records the changes it is applied.
type changeSpy struct {
	owns string
	got  *[]schema.Change
}

func (c *changeSpy) Name() string                         { return "spy" }
func (c *changeSpy) Attach(events.Sink)                   {}
func (c *changeSpy) State(*gen.Device, []*gpb.Path) error { return nil }
func (c *changeSpy) Owns() []*gpb.Path                    { return []*gpb.Path{{Elem: []*gpb.PathElem{{Name: c.owns}}}} }
func (c *changeSpy) Prepare(*schema.ChangeSet) error      { return nil }
func (c *changeSpy) Abort(*schema.ChangeSet)              {}
func (c *changeSpy) Apply(cs *schema.ChangeSet)           { *c.got = append(*c.got, cs.Changes...) }

func TestConfigSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, dir)
	if err := s.Edit(admin, Running, func(root *gen.Device) error {
		root.GetOrCreateSystem().Hostname = ygot.String("edge-7")
		return setProfile("slow", 10)(root)
	}); err != nil {
		t.Fatal(err)
	}
	want := runningJSON(t, s)
	s.Close()

	s2 := newTestServer(t, dir)
	if got := runningJSON(t, s2); got != want {
		t.Errorf("after restart running =\n%s\nwant\n%s", got, want)
	}
}

// Validation errors name the keyed path of the offending node, and the
// failed edit changes nothing.
func TestValidationErrorsNamePath(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	if err := s.Edit(admin, Running, setProfile("p1", 3)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		edit     func(*gen.Device) error
		tag      schema.Tag
		path     string
		contains string
	}{
		{"range", setProfile("p1", 0), schema.TagInvalidValue,
			"/bfd/profiles/profile[name=p1]/detection-multiplier", ""},
		{"leafref", func(root *gen.Device) error {
			sess := root.GetOrCreateBfd().GetOrCreateSingleHop().GetOrCreateSession("eth0", "192.0.2.1")
			sess.Profile = ygot.String("nope")
			return nil
		}, schema.TagDataMissing, "/bfd/single-hop/session[dest-addr=192.0.2.1][interface=eth0]/profile", "nope"},
		{"mandatory", func(root *gen.Device) error {
			sw := root.GetOrCreateSoftwire().GetOrCreateLwaftr().GetOrCreateBindingTable().GetOrCreateSoftwire("192.0.2.7", 3)
			sw.B4Ipv6 = ygot.String("2001:db8::7")
			sw.GetOrCreatePortSet().PsidLength = ygot.Uint8(6)
			return nil
		}, schema.TagDataMissing, "/softwire/lwaftr/binding-table/softwire[ipv4=192.0.2.7][psid=3]/br-address", "mandatory"},
		{"mandatory below absent container", func(root *gen.Device) error {
			sw := root.GetOrCreateSoftwire().GetOrCreateLwaftr().GetOrCreateBindingTable().GetOrCreateSoftwire("192.0.2.8", 1)
			sw.B4Ipv6 = ygot.String("2001:db8::8")
			sw.BrAddress = ygot.String("2001:db8::1")
			return nil
		}, schema.TagDataMissing, "/softwire/lwaftr/binding-table/softwire[ipv4=192.0.2.8][psid=1]/port-set/psid-length", ""},
		{"ipv6 syntax", func(root *gen.Device) error {
			root.GetOrCreateBfd().GetOrCreateSingleHop().GetOrCreateSession("eth0", "2001:db8:::1")
			return nil
		}, schema.TagInvalidValue, "/bfd/single-hop/session[dest-addr=2001:db8:::1][interface=eth0]/dest-addr", "ip-address"},
		{"config false", func(root *gen.Device) error {
			root.GetOrCreateSystem().GetOrCreateState().Version = ygot.String("forged")
			return nil
		}, schema.TagInvalidValue, "/system/state", "config false"},
		{"pattern", func(root *gen.Device) error {
			root.GetOrCreateSystem().Hostname = ygot.String("bad host!")
			return nil
		}, schema.TagInvalidValue, "/system/hostname", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := runningJSON(t, s)
			err := s.Edit(admin, Running, tc.edit)
			e := schema.AsError(err)
			if e == nil {
				t.Fatal("edit accepted")
			}
			if e.Tag != tc.tag {
				t.Errorf("tag = %s, want %s (%v)", e.Tag, tc.tag, err)
			}
			if got := schema.PathString(e.Path); got != tc.path {
				t.Errorf("path = %s, want %s (%v)", got, tc.path, err)
			}
			if !strings.Contains(e.Error(), tc.contains) {
				t.Errorf("error %q does not mention %q", e.Error(), tc.contains)
			}
			if after := runningJSON(t, s); after != before {
				t.Error("failed edit changed running")
			}
		})
	}
}

func TestCandidateCommitAndDiscard(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	before := runningJSON(t, s)
	// A candidate may be incomplete until commit: a dangling leafref is
	// accepted by the edit and refused by validate and commit.
	if err := s.Edit(admin, Candidate, func(root *gen.Device) error {
		root.GetOrCreateBfd().GetOrCreateSingleHop().GetOrCreateSession("eth0", "192.0.2.1").Profile = ygot.String("p")
		return nil
	}); err != nil {
		t.Fatalf("candidate edit: %v", err)
	}
	if runningJSON(t, s) != before {
		t.Fatal("candidate edit changed running")
	}
	if err := s.Validate(Candidate); schema.AsError(err) == nil || schema.AsError(err).Tag != schema.TagDataMissing {
		t.Fatalf("validate candidate = %v, want data-missing", err)
	}
	if err := s.Commit(admin); err == nil {
		t.Fatal("commit of an invalid candidate succeeded")
	}
	if err := s.Edit(admin, Candidate, setProfile("p", 4)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(admin); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if got := s.Running().GetBfd().GetProfiles().GetProfile("p").GetDetectionMultiplier(); got != 4 {
		t.Errorf("running multiplier = %d, want 4", got)
	}
	if s.CandidateModified() {
		t.Error("candidate still marked modified after commit")
	}
	if err := s.Edit(admin, Candidate, setProfile("p", 9)); err != nil {
		t.Fatal(err)
	}
	if err := s.Discard(admin); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Config(Candidate)
	if got := c.GetBfd().GetProfiles().GetProfile("p").GetDetectionMultiplier(); got != 4 {
		t.Errorf("candidate after discard = %d, want running's 4", got)
	}
}

func TestPasswordsAreStoredHashed(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, dir)
	const clear = "correct horse battery staple"
	for _, ds := range []Datastore{Candidate, Running} {
		if err := s.Edit(admin, ds, func(root *gen.Device) error {
			u := root.GetOrCreateSystem().GetOrCreateAaa().GetOrCreateUsers().GetOrCreateUser("alice")
			u.Password = ygot.String(clear)
			u.Role = gen.WirebeatSystem_UserRole_admin
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", ds, err)
		}
		cfg, _ := s.Config(ds)
		js, _ := schema.EncodeJSON(cfg)
		if strings.Contains(string(js), clear) {
			t.Errorf("%s returns the clear-text password", ds)
		}
	}
	if strings.Contains(diskState(t, dir), clear) {
		t.Error("the datadir holds the clear-text password")
	}
	if u, err := s.Authenticate("alice", clear); err != nil || u.Role != RoleAdmin {
		t.Errorf("Authenticate = %v, %v", u, err)
	}
	if _, err := s.Authenticate("alice", "wrong"); err == nil {
		t.Error("wrong password accepted")
	}
	if _, err := s.Authenticate("mallory", clear); err == nil {
		t.Error("unknown user accepted")
	}
	// Deleting every administrator would lock everyone out.
	err := s.Edit(admin, Running, func(root *gen.Device) error {
		root.System.Aaa.Users.User = nil
		root.GetOrCreateSystem().GetOrCreateAaa().GetOrCreateUsers().GetOrCreateUser("bob").Password = ygot.String("x")
		return nil
	})
	if e := schema.AsError(err); e == nil || e.Tag != schema.TagInvalidValue || schema.PathString(e.Path) != "/system/aaa/users" {
		t.Errorf("removing the last admin: %v", err)
	}
}

func TestRolesAndLocks(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	op := s.OpenSession("olga", RoleOperator, "test", "")
	viewer := s.OpenSession("vic", RoleViewer, "test", "")
	other := s.OpenSession("root2", RoleAdmin, "test", "")

	if err := s.Edit(viewer, Running, setProfile("p", 3)); schema.AsError(err) == nil || schema.AsError(err).Tag != schema.TagAccessDenied {
		t.Errorf("viewer edit = %v, want access-denied", err)
	}
	if err := s.Edit(op, Running, setProfile("p", 3)); err != nil {
		t.Errorf("operator BFD edit: %v", err)
	}
	err := s.Edit(op, Running, func(root *gen.Device) error {
		root.GetOrCreateSystem().Hostname = ygot.String("taken-over")
		return nil
	})
	if e := schema.AsError(err); e == nil || e.Tag != schema.TagAccessDenied || schema.PathString(e.Path) != "/system/hostname" {
		t.Errorf("operator system edit = %v, want access-denied at /system/hostname", err)
	}

	if err := s.Lock(op, Running); err != nil {
		t.Fatal(err)
	}
	err = s.Lock(other, Running)
	if e := schema.AsError(err); e == nil || e.Tag != schema.TagLockDenied || e.Holder != op.ID {
		t.Errorf("second lock = %v, want lock-denied held by %d", err, op.ID)
	}
	if e := schema.AsError(s.Edit(other, Running, setProfile("p", 4))); e == nil || e.Tag != schema.TagInUse {
		t.Errorf("edit of a locked running = %v, want in-use", e)
	}
	if err := s.Edit(op, Running, setProfile("p", 4)); err != nil {
		t.Errorf("lock holder edit: %v", err)
	}
	// Killing the holder releases its lock.
	if _, err := s.KillSession(other, op.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(other, Running); err != nil {
		t.Errorf("lock after kill-session: %v", err)
	}
	if err := s.Unlock(other, Running); err != nil {
		t.Error(err)
	}
	// A candidate with uncommitted changes cannot be locked.
	if err := s.Edit(other, Candidate, setProfile("q", 3)); err != nil {
		t.Fatal(err)
	}
	if e := schema.AsError(s.Lock(other, Candidate)); e == nil || e.Tag != schema.TagLockDenied {
		t.Errorf("lock of a modified candidate = %v, want lock-denied", e)
	}
}

func TestRollbackHistory(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, dir)
	for i := 1; i <= HistorySize+5; i++ {
		if err := s.Edit(admin, Running, setProfile("p", uint8(i))); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.History()
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != HistorySize {
		t.Fatalf("history keeps %d entries, want %d", len(h), HistorySize)
	}
	// History is kept as journal records, not as copies.
	if snaps, _ := filepath.Glob(filepath.Join(dir, configDir, snapPrefix+"*")); len(snaps) != 1 {
		t.Errorf("%d snapshots on disk, want 1", len(snaps))
	}
	// h[0] is the newest (multiplier 55); h[10] is ten commits earlier.
	if err := s.Rollback(admin, h[10].ID); err != nil {
		t.Fatal(err)
	}
	if got := s.Running().GetBfd().GetProfiles().GetProfile("p").GetDetectionMultiplier(); got != HistorySize+5-10 {
		t.Errorf("after rollback multiplier = %d, want %d", got, HistorySize+5-10)
	}
	if err := s.Rollback(admin, 1); schema.AsError(err) == nil {
		t.Error("rollback to a pruned entry succeeded")
	}
}

func TestCommitPublishesConfigChange(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	sub := s.Hub().Subscribe(8, func(e *events.Event) bool { return e.Kind == events.ConfigChange })
	defer sub.Close()
	if err := s.Edit(admin, Running, setProfile("p", 3)); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-sub.C:
		if e.Commit == nil || len(e.Commit.Edits) != 1 || e.Commit.Edits[0].Operation != schema.OpCreate ||
			schema.PathString(e.Commit.Edits[0].Path) != "/bfd/profiles/profile[name=p]" {
			t.Errorf("config change = %+v", e.Commit)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no config-change event")
	}
	// An edit that changes nothing commits nothing.
	if err := s.Edit(admin, Running, setProfile("p", 3)); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-sub.C:
		t.Errorf("event for an empty commit: %+v", e.Commit)
	default:
	}
}

func TestIPv6AddressesCanonical(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	if err := s.Edit(admin, Running, func(root *gen.Device) error {
		root.GetOrCreateBfd().GetOrCreateSoftwire().GetOrCreateSession("2001:DB8:0:0::0:1").Role = gen.WirebeatBfd_Bfd_Softwire_Session_Role_aftr
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sessions := s.Running().GetBfd().GetSoftwire().Session
	if _, ok := sessions["2001:db8::1"]; !ok || len(sessions) != 1 {
		t.Errorf("sessions keyed %v, want the canonical 2001:db8::1", keysOf(sessions))
	}
}

func keysOf[K comparable, V any](m map[K]V) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	return out
}

// State is rendered only under the requested paths.
func TestStateOnlyUnderRequestedPaths(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	st, err := s.State([]*gpb.Path{{Elem: []*gpb.PathElem{{Name: "bfd"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if st.System != nil {
		t.Error("system state rendered for a /bfd request")
	}
	st, err = s.State([]*gpb.Path{{Elem: []*gpb.PathElem{{Name: "system"}, {Name: "state"}, {Name: "version"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetSystem().GetState().GetVersion() != "test" {
		t.Errorf("version = %q", st.GetSystem().GetState().GetVersion())
	}
}

func TestHubCutsOffSlowSubscriber(t *testing.T) {
	h := NewHub()
	slow := h.Subscribe(4, nil)
	fast := h.Subscribe(1024, nil)
	got := make(chan int)
	go func() {
		n := 0
		for range fast.C {
			n++
		}
		got <- n
	}()
	const total = 500
	for i := 0; i < total; i++ {
		h.Publish(events.Event{Kind: events.StateChange}) // must never block
	}
	// The slow one never read: its queue overflowed and it was cut off.
	n := 0
	for range slow.C {
		n++
	}
	if n != 4 || !errors.Is(slow.Err(), ErrSlowConsumer) {
		t.Errorf("slow subscriber got %d events, err %v; want 4 and ErrSlowConsumer", n, slow.Err())
	}
	h.Close()
	if n := <-got; n != total {
		t.Errorf("fast subscriber got %d of %d events", n, total)
	}
	if !errors.Is(fast.Err(), ErrHubClosed) {
		t.Errorf("fast err = %v", fast.Err())
	}
}

func TestStartupCorruptRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, startupFile), []byte(`{"wirebeat-bfd:bfd":{"nonsense":1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{DataDir: dir, Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("New with a bad startup = %v, want an error naming the bad member", err)
	}
}

func ExamplePathString() {
	fmt.Println(schema.PathString(&gpb.Path{Elem: []*gpb.PathElem{{Name: "bfd"}, {Name: "profiles"}, {Name: "profile", Key: map[string]string{"name": "fast"}}}}))
	// Output: /bfd/profiles/profile[name=fast]
}

// The seal of test builds catches a write into the committed running
// configuration: the next commit is refused and Close reports it.
func TestSealCatchesInPlaceWrite(t *testing.T) {
	s, err := New(Options{DataDir: t.TempDir(), Logger: quiet, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Edit(admin, Running, setProfile("p", 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyCommitted(); err != nil {
		t.Fatalf("seal broken without a write: %v", err)
	}
	// A stray write by an adapter or front end.
	s.Running().GetBfd().GetProfiles().GetProfile("p").DetectionMultiplier = ygot.Uint8(9)
	if err := s.Edit(admin, Running, setProfile("q", 3)); err == nil || !strings.Contains(err.Error(), "modified in place") {
		t.Fatalf("commit after an in-place write = %v, want refused", err)
	}
	s.Running().GetBfd().GetProfiles().GetProfile("p").DetectionMultiplier = ygot.Uint8(4)
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "modified in place") {
		t.Fatalf("Close after an in-place write = %v", err)
	}
}

// diskState is everything the datadir holds, names and contents, for
// comparisons.
func diskState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		fmt.Fprintf(&b, "%s %d\n%s\n", p, len(data), data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A transaction that replaces the binding table (deletes it whole, then
// adds one entry, as a NETCONF replace does) tells the engine about every
// entry it dropped, not only the one it added.
func TestReplacedTableReportsDroppedEntries(t *testing.T) {
	var seen []schema.Change
	s := newTestServer(t, t.TempDir(), &changeSpy{owns: "softwire", got: &seen})
	if err := s.Edit(admin, Running, func(root *gen.Device) error { addBindings(root, 3); return nil }); err != nil {
		t.Fatal(err)
	}
	seen = nil
	table := []*gpb.PathElem{{Name: "softwire"}, {Name: "lwaftr"}, {Name: "binding-table"}}
	if err := s.EditTx(admin, Running, func(tx *schema.Tx) error {
		if _, err := tx.Delete(&gpb.Path{Elem: table}); err != nil {
			return err
		}
		n, err := tx.Get(&gpb.Path{Elem: append(table[:3:3], &gpb.PathElem{Name: "softwire",
			Key: map[string]string{"ipv4": "10.9.9.9", "psid": "1"}})}, true)
		if err != nil {
			return err
		}
		sw := n.(*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire)
		sw.B4Ipv6, sw.BrAddress = ygot.String("2001:db8::9"), ygot.String("2001:db8::1")
		sw.GetOrCreatePortSet().PsidLength = ygot.Uint8(6)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, c := range seen {
		ops[c.Op]++
	}
	if ops[schema.OpDelete] != 3 || ops[schema.OpCreate] != 1 || len(seen) != 4 {
		t.Fatalf("changes %v, want 3 deletes and 1 create", ops)
	}
}
