package server

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// A one-leaf commit next to a large table appends one small record; the
// table is not written again.
func TestOneLeafCommitWritesOneRecord(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, dir)
	if err := s.Edit(admin, Running, func(root *gen.Device) error { addBindings(root, 20_000); return nil }); err != nil {
		t.Fatal(err)
	}
	before := dirSize(t, dir)
	for i := 0; i < 10; i++ {
		if err := oneLeafCommit(s, i); err != nil {
			t.Fatal(err)
		}
	}
	if grew := dirSize(t, dir) - before; grew > 10*1024 {
		t.Fatalf("10 one-leaf commits grew the datadir by %d bytes", grew)
	}
	want := runningJSON(t, s)
	s.Close()
	s2 := newTestServer(t, dir)
	if got := runningJSON(t, s2); got != want {
		t.Fatal("snapshot and journal read back differ from running")
	}
}

func dirSize(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return err
	})
	return n
}

// Temporary files of writes a crash interrupted are removed at boot.
func TestLeftoverTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, dir)
	s.Close()
	left := []string{filepath.Join(dir, ".startup.json"+tempMarker+"123"), filepath.Join(dir, configDir, "."+snapPrefix+"000000000009.json"+tempMarker+"9")}
	for _, p := range left {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newTestServer(t, dir)
	for _, p := range left {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
}

// startup.json is written on demand (copy-config running to startup), not
// by commits, and holds running.
func TestStartupWrittenOnDemand(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, dir)
	if err := s.Edit(admin, Running, setProfile("p", 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, startupFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a commit wrote startup: %v", err)
	}
	if err := s.Replace(admin, Startup, s.Running()); err != nil {
		t.Fatal(err)
	}
	st, err := s.Config(Startup)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := schema.EncodeJSON(st)
	if string(a) != runningJSON(t, s) {
		t.Fatal("startup after copy-config differs from running")
	}
}

// A confirmed commit still pending when the element dies is undone at the
// next boot (RFC 6241 section 8.4.1).
func TestPendingConfirmedCommitRevertedAtBoot(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, dir)
	if err := s.Edit(admin, Running, setProfile("p", 3)); err != nil {
		t.Fatal(err)
	}
	before := runningJSON(t, s)
	if _, _, err := s.ConfirmedCommit(admin, Confirm{Confirmed: true, Timeout: time.Hour}, func() (uint64, error) {
		return s.CommitTx(admin, "confirmed", func(tx *schema.Tx) error {
			p, err := tx.Get(&gpb.Path{Elem: []*gpb.PathElem{{Name: "bfd"}, {Name: "profiles"}, {Name: "profile", Key: map[string]string{"name": "p"}}}}, false)
			if err != nil {
				return err
			}
			p.(*gen.WirebeatBfd_Bfd_Profiles_Profile).DetectionMultiplier = ygot.Uint8(9)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, confirmFile)); err != nil {
		t.Fatalf("pending confirmed commit not on disk: %v", err)
	}
	// As after kill -9: the element stops without rolling back.
	s.confirmed.mu.Lock()
	s.confirmed.clear()
	s.confirmed.mu.Unlock()
	s.Close()
	s2 := newTestServer(t, dir)
	if got := runningJSON(t, s2); got != before {
		t.Fatalf("after boot running =\n%s\nwant the configuration before the confirmed commit\n%s", got, before)
	}
	if _, err := os.Stat(filepath.Join(dir, confirmFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pending state not cleared after the revert: %v", err)
	}
	s2.Close()
	if got := runningJSON(t, newTestServer(t, dir)); got != before {
		t.Fatal("the revert was not saved")
	}
}

// On a full disk the element still boots (boot writes nothing), a commit
// is refused with "nothing was changed" and indeed changes nothing that
// boot would load.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIP: mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	s := newTestServer(t, dir)
	if err := s.Edit(admin, Running, setProfile("p", 3)); err != nil {
		t.Fatal(err)
	}
	want := runningJSON(t, s)
	fill(t, filepath.Join(dir, "filler"))
	// More than a page of journal record, so that it needs new space.
	err := s.Edit(admin, Running, func(root *gen.Device) error {
		for i := 0; i < 100; i++ {
			if err := setProfile(fmt.Sprintf("profile-%03d-%s", i, strings.Repeat("x", 40)), 7)(root); err != nil {
				return err
			}
		}
		return nil
	})
	if e := schema.AsError(err); e == nil || !strings.Contains(e.Message, "nothing was changed") {
		t.Fatalf("commit on a full disk = %v, want refused with nothing changed", err)
	}
	if got := runningJSON(t, s); got != want {
		t.Fatal("running changed by a refused commit")
	}
	s.Close()
	s2, err := New(Options{DataDir: dir, Logger: quiet})
	if err != nil {
		t.Fatalf("boot on a full disk: %v", err)
	}
	if got := runningJSON(t, s2); got != want {
		t.Fatalf("boot on a full disk loaded\n%s\nwant\n%s", got, want)
	}
	s2.Close()
	os.Remove(filepath.Join(dir, "filler"))
	s3 := newTestServer(t, dir)
	if got := runningJSON(t, s3); got != want {
		t.Fatal("the refused commit reached the disk")
	}
	if err := s3.Edit(admin, Running, setProfile("p", 8)); err != nil {
		t.Fatalf("commit after space came back: %v", err)
	}
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for {
		if _, err := f.Write(buf[:512]); err != nil {
			break
		}
	}
	f.Sync()
}

// A journal write that fails is cut off again: the reply says nothing was
// changed, and it is true, boot does not see the commit. When even the cut
// fails, the reply does not claim that, and no more commits are taken.
func TestFailedJournalWrite(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, dir)
	if err := s.Edit(admin, Running, setProfile("p", 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Edit(admin, Running, setProfile("p", 4)); err != nil {
		t.Fatal(err)
	}
	want := runningJSON(t, s)
	fails := 0
	failSync := func(*os.File) error { // the record's fsync fails, not the one after the cut
		if fails++; fails == 1 {
			return syscall.EIO
		}
		return nil
	}
	syncFile = failSync
	t.Cleanup(func() { syncFile, truncateFile = (*os.File).Sync, (*os.File).Truncate })
	err := s.Edit(admin, Running, setProfile("p", 5))
	if e := schema.AsError(err); e == nil || !strings.Contains(e.Message, "nothing was changed") {
		t.Fatalf("commit with a failing fsync = %v", err)
	}
	syncFile = (*os.File).Sync
	st, _ := openStore(dir, HistorySize)
	cfg, _, _, err := st.load()
	st.close()
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := schema.EncodeJSON(cfg); string(js) != want {
		t.Fatalf("the refused commit is on disk:\n%s", js)
	}

	// Now the cut fails too: the disk may hold the commit.
	fails = 0
	syncFile = failSync
	truncateFile = func(*os.File, int64) error { return syscall.EIO }
	err = s.Edit(admin, Running, setProfile("p", 6))
	if e := schema.AsError(err); e == nil || strings.Contains(e.Message, "nothing was changed") || !strings.Contains(e.Message, "may hold this commit") {
		t.Fatalf("commit with a failing fsync and truncate = %v", err)
	}
	syncFile, truncateFile = (*os.File).Sync, (*os.File).Truncate
	if err := s.Edit(admin, Running, setProfile("p", 7)); err == nil {
		t.Fatal("commit accepted after the journal broke")
	}
}

// When the journal outgrows the snapshot a new snapshot is written; boot
// reads it back, and rollback still reaches commits from before it.
func TestJournalCompaction(t *testing.T) {
	minCompact = 2 << 10
	t.Cleanup(func() { minCompact = 4 << 20 })
	dir := t.TempDir()
	s := newTestServer(t, dir)
	for i := 0; i < 40; i++ {
		if err := s.Edit(admin, Running, setProfile("p", uint8(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, configDir, snapPrefix+"*"))
	if len(snaps) < 2 {
		t.Fatalf("%d snapshots after 40 commits with a 2 KiB journal limit, want a compaction", len(snaps))
	}
	h, _ := s.History()
	oldest := h[len(h)-1]
	want := runningJSON(t, s)
	s.Close()
	s2 := newTestServer(t, dir)
	if got := runningJSON(t, s2); got != want {
		t.Fatal("boot after compaction differs from running")
	}
	if err := s2.Rollback(admin, oldest.ID); err != nil {
		t.Fatalf("rollback to %d, before the compaction: %v", oldest.ID, err)
	}
	if got := s2.Running().GetBfd().GetProfiles().GetProfile("p").GetDetectionMultiplier(); int(got) != int(oldest.ID) {
		t.Fatalf("after rollback to %d multiplier = %d", oldest.ID, got)
	}
}

// copy-config running to startup when running is the newest snapshot
// (after a large commit, a compaction or a boot with no commit since)
// makes startup a second name of that snapshot file instead of encoding
// the tree; after a commit the journal holds, it encodes running.
func TestStartupLinksTheSnapshotOfRunning(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, dir)
	if err := s.Edit(admin, Running, func(root *gen.Device) error { addBindings(root, bigCommit+1); return nil }); err != nil {
		t.Fatal(err)
	}
	sameAsSnapshot := func(s *Server) bool {
		t.Helper()
		a, err := os.Stat(filepath.Join(dir, startupFile))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.Stat(s.store.snapPath(s.store.snaps[len(s.store.snaps)-1]))
		if err != nil {
			t.Fatal(err)
		}
		return os.SameFile(a, b)
	}
	startupIsRunning := func(s *Server) {
		t.Helper()
		st, err := s.Config(Startup)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := schema.EncodeJSON(st)
		if string(a) != runningJSON(t, s) {
			t.Fatal("startup after copy-config differs from running")
		}
	}
	if err := s.Replace(admin, Startup, s.Running()); err != nil {
		t.Fatal(err)
	}
	if !sameAsSnapshot(s) {
		t.Fatal("startup is not the snapshot of running")
	}
	startupIsRunning(s)

	if err := oneLeafCommit(s, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(admin, Startup, s.Running()); err != nil {
		t.Fatal(err)
	}
	if sameAsSnapshot(s) {
		t.Fatal("startup links a snapshot older than running")
	}
	startupIsRunning(s)
	s.Close()

	// A boot that replays a record: running is not the snapshot.
	s2 := newTestServer(t, dir)
	if err := s2.Replace(admin, Startup, s2.Running()); err != nil {
		t.Fatal(err)
	}
	if sameAsSnapshot(s2) {
		t.Fatal("startup links the snapshot though the journal changed running after it")
	}
	startupIsRunning(s2)
}
