package server

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// Files of the datadir that the store owns.
const (
	startupFile  = "startup.json"         // RFC 7951 JSON, written on demand
	configDir    = "config"               // snapshots and journal segments
	snapPrefix   = "snapshot-"            // snapshot-<id>.json: running after commit id
	journalPref  = "journal-"             // journal-<id>.log: the commits after snapshot id
	confirmFile  = "confirm-pending.json" // a confirmed commit awaiting confirmation
	tempMarker   = ".tmp-"
	recordHeader = 8 // length and CRC-32C of the payload, little endian
	// bigCommit is the number of changes above which a commit is saved as
	// a snapshot rather than a journal record: a table loaded at once is
	// cheaper to read back whole.
	bigCommit = 4096

	// maxRecord bounds one journal record read back, against corruption.
	maxRecord = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// minCompact is the journal size below which it is never compacted (a
// variable for tests).
var minCompact int64 = 4 << 20

// store persists the running configuration as a journal: a snapshot (RFC
// 7951 JSON of running after some commit) and a segment of records, one
// per later commit, each the commit's changes, appended and fsynced before
// the commit is acknowledged. A commit of one leaf writes one small record
// whatever the size of the configuration. When the segment outgrows the
// snapshot, a new snapshot is written and a new segment started; old ones
// go once no kept rollback entry needs them. Rollback history is the
// journal itself: a kept configuration is rebuilt from the snapshot before
// it and the records up to it.
//
// Crash safety: a snapshot is written to a temporary file, fsynced and
// renamed; a record is appended and fsynced, and a torn record at the end
// of a segment (a crash during the append) is ignored when reading, so
// boot sees exactly the acknowledged commits, or one more whose
// acknowledgement was under way.
type store struct {
	dir, cdir string
	keep      int

	snaps    []uint64 // snapshot ids, ascending
	snapSize int64    // size of the newest snapshot
	seg      *os.File // the newest snapshot's segment, open for appending
	segSize  int64    // bytes of whole records in it
	history  []HistoryEntry
	// snapTree is the tree the newest snapshot holds while running is
	// still that tree (nil once a record follows the snapshot): its file
	// is then the RFC 7951 text of running, and copy-config to startup
	// links it instead of encoding the whole tree again.
	snapTree *gen.Device
	// broken is set when a failed append could not be undone: what is on
	// disk may then hold a commit running does not, and no more commits
	// are taken until a restart reads the disk again.
	broken error
}

// HistoryEntry describes one committed configuration kept for rollback.
type HistoryEntry struct {
	ID        uint64    `json:"id"`
	Time      time.Time `json:"time"`
	User      string    `json:"user"`
	Transport string    `json:"transport"`
	Comment   string    `json:"comment,omitempty"`
}

// record is one journal record: a commit and its changes (none for the
// record that opens a segment after a snapshot of a commit).
type record struct {
	HistoryEntry
	Snapshot bool            `json:"snapshot,omitempty"`
	Changes  json.RawMessage `json:"changes,omitempty"`
}

// openStore opens the datadir without writing to it, but for removing the
// temporary files of writes a crash interrupted.
func openStore(dir string, keep int) (*store, error) {
	st := &store{dir: dir, cdir: filepath.Join(dir, configDir), keep: keep}
	if err := os.MkdirAll(st.cdir, 0o700); err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	for _, d := range []string{dir, st.cdir} {
		names, err := os.ReadDir(d)
		if err != nil {
			return nil, fmt.Errorf("datadir: %w", err)
		}
		for _, de := range names {
			if strings.Contains(de.Name(), tempMarker) {
				_ = os.Remove(filepath.Join(d, de.Name()))
			}
		}
	}
	names, err := os.ReadDir(st.cdir)
	if err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	for _, de := range names {
		n := de.Name()
		if id, ok := idOf(n, snapPrefix, ".json"); ok {
			st.snaps = append(st.snaps, id)
		}
	}
	sort.Slice(st.snaps, func(i, j int) bool { return st.snaps[i] < st.snaps[j] })
	return st, nil
}

func idOf(name, prefix, ext string) (uint64, bool) {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ext) {
		return 0, false
	}
	id, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, prefix), ext), 10, 64)
	return id, err == nil
}

func (st *store) snapPath(id uint64) string {
	return filepath.Join(st.cdir, fmt.Sprintf("%s%012d.json", snapPrefix, id))
}

func (st *store) segPath(id uint64) string {
	return filepath.Join(st.cdir, fmt.Sprintf("%s%012d.log", journalPref, id))
}

func (st *store) startupPath() string { return filepath.Join(st.dir, startupFile) }

// load reads the persisted running configuration: the newest snapshot and
// the records after it. found is false when nothing was ever committed.
func (st *store) load() (cfg *gen.Device, id uint64, found bool, err error) {
	if len(st.snaps) == 0 {
		return nil, 0, false, nil
	}
	base := st.snaps[len(st.snaps)-1]
	cfg, err = st.readSnapshot(base)
	if err != nil {
		return nil, 0, false, err
	}
	if fi, err := os.Stat(st.snapPath(base)); err == nil {
		st.snapSize = fi.Size()
	}
	id = base
	tx := schema.NewTx(cfg)
	recs, good, err := st.readSegment(base)
	if err != nil {
		return nil, 0, false, err
	}
	for _, r := range recs {
		if r.ID <= base || r.Snapshot {
			continue
		}
		if err := schema.ApplyEncodedChanges(tx, r.Changes); err != nil {
			return nil, 0, false, fmt.Errorf("journal %s, commit %d: %w", st.segPath(base), r.ID, err)
		}
		id = r.ID
	}
	st.segSize = good
	if err := st.loadHistory(); err != nil {
		return nil, 0, false, err
	}
	if id == base {
		st.snapTree = tx.Root()
	}
	return tx.Root(), id, true, nil
}

func (st *store) readSnapshot(id uint64) (*gen.Device, error) {
	data, err := os.ReadFile(st.snapPath(id))
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	cfg, err := schema.DecodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", st.snapPath(id), err)
	}
	return cfg, nil
}

// readSegment returns the whole records of the segment after snapshot id
// and the length they take; a torn or corrupt tail is left out.
func (st *store) readSegment(id uint64) ([]record, int64, error) {
	f, err := os.Open(st.segPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var out []record
	var good int64
	var hdr [recordHeader]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return out, good, nil // end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n == 0 || n > maxRecord {
			return out, good, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return out, good, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return out, good, nil
		}
		var rec record
		if err := json.Unmarshal(payload, &rec); err != nil {
			return out, good, nil
		}
		out = append(out, rec)
		good += int64(recordHeader) + int64(n)
	}
}

// loadHistory lists the commits the kept segments record.
func (st *store) loadHistory() error {
	st.history = nil
	seen := map[uint64]bool{}
	for _, s := range st.snaps {
		recs, _, err := st.readSegment(s)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if !seen[r.ID] {
				seen[r.ID] = true
				st.history = append(st.history, r.HistoryEntry)
			}
		}
		if !seen[s] { // a snapshot whose opening record was lost
			seen[s] = true
			h := HistoryEntry{ID: s}
			if fi, err := os.Stat(st.snapPath(s)); err == nil {
				h.Time = fi.ModTime()
			}
			st.history = append(st.history, h)
		}
	}
	sort.Slice(st.history, func(i, j int) bool { return st.history[i].ID < st.history[j].ID })
	if len(st.history) > st.keep {
		st.history = st.history[len(st.history)-st.keep:]
	}
	return nil
}

// commit persists commit h, which made cfg with changes: a journal record,
// or a snapshot for the first commit and for large ones. encode renders a
// snapshot. On error nothing that load would read has changed.
func (st *store) commit(h HistoryEntry, changes []schema.Change, cfg *gen.Device, encode func(*gen.Device) ([]byte, error)) error {
	if st.broken != nil {
		return st.broken
	}
	if len(st.snaps) == 0 || len(changes) > bigCommit {
		return st.snapshot(h, cfg, encode)
	}
	ch, err := schema.EncodeChanges(changes)
	if err != nil {
		return err
	}
	st.snapTree = nil
	if err := st.append(record{HistoryEntry: h, Changes: ch}); err != nil {
		return err
	}
	st.remember(h)
	if st.segSize > max(st.snapSize, minCompact) {
		// Compaction: the journal now costs more to replay than the
		// snapshot to read. Its failure loses nothing; the commit stands.
		if err := st.snapshot(h, cfg, encode); err != nil {
			return fmt.Errorf("%w: %w", errSavedAnyway, err)
		}
	}
	return nil
}

// errSavedAnyway marks an error after the commit was made durable.
var errSavedAnyway = errors.New("the commit is saved, but compacting the journal failed")

func (st *store) remember(h HistoryEntry) {
	if n := len(st.history); n > 0 && st.history[n-1].ID == h.ID {
		st.history[n-1] = h
		return
	}
	st.history = append(st.history, h)
	if len(st.history) > st.keep {
		st.history = st.history[len(st.history)-st.keep:]
	}
}

// snapshot writes cfg as the snapshot of commit h and starts its segment
// with h's record, then drops what no kept entry needs.
func (st *store) snapshot(h HistoryEntry, cfg *gen.Device, encode func(*gen.Device) ([]byte, error)) error {
	data, err := encode(cfg)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(st.snapPath(h.ID), data, 0o600); err != nil {
		return err
	}
	// From here the commit is durable: load reads the new snapshot.
	st.snaps = append(st.snaps, h.ID)
	st.snapTree = cfg
	st.snapSize = int64(len(data))
	if st.seg != nil {
		st.seg.Close()
		st.seg = nil
	}
	_ = os.Remove(st.segPath(h.ID)) // a segment left by a crash at this ID
	st.segSize = 0
	if err := st.append(record{HistoryEntry: h, Snapshot: true}); err != nil {
		st.remember(h)
		return fmt.Errorf("%w: %w", errSavedAnyway, err)
	}
	st.remember(h)
	st.prune()
	return nil
}

// append adds a record to the newest segment and fsyncs it. A failed
// append is cut off again, so that nothing of it is read back; if even
// that fails the store is broken until restart.
func (st *store) append(r record) error {
	payload, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if st.seg == nil {
		base := st.snaps[len(st.snaps)-1]
		f, err := os.OpenFile(st.segPath(base), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		// Drop a torn tail left by a crash before appending after it.
		if err := f.Truncate(st.segSize); err != nil {
			f.Close()
			return fmt.Errorf("journal: %w", err)
		}
		st.seg = f
		if err := syncDir(st.cdir); err != nil {
			return err
		}
	}
	buf := make([]byte, recordHeader, recordHeader+len(payload))
	binary.LittleEndian.PutUint32(buf[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(payload, crcTable))
	buf = append(buf, payload...)
	if _, err := st.seg.WriteAt(buf, st.segSize); err != nil {
		return st.undoAppend(err)
	}
	if err := syncFile(st.seg); err != nil {
		return st.undoAppend(err)
	}
	st.segSize += int64(len(buf))
	return nil
}

// Tests replace these to make a write fail where a disk can.
var (
	syncFile     = (*os.File).Sync
	truncateFile = (*os.File).Truncate
)

func (st *store) undoAppend(cause error) error {
	if err := truncateFile(st.seg, st.segSize); err != nil {
		st.broken = fmt.Errorf("the journal could not be restored after a failed write (%v; %v): the configuration on disk may hold this commit; restart the element", cause, err)
		return st.broken
	}
	if err := syncFile(st.seg); err != nil {
		st.broken = fmt.Errorf("the journal could not be restored after a failed write (%v; %v): the configuration on disk may hold this commit; restart the element", cause, err)
		return st.broken
	}
	return fmt.Errorf("journal: %w", cause)
}

// prune removes snapshots and segments that no kept entry needs: all but
// the newest snapshot at or before the oldest kept commit, and the later
// ones.
func (st *store) prune() {
	if len(st.history) == 0 {
		return
	}
	oldest := st.history[0].ID
	keepFrom := 0
	for i, s := range st.snaps {
		if s <= oldest {
			keepFrom = i
		}
	}
	for _, s := range st.snaps[:keepFrom] {
		_ = os.Remove(st.segPath(s))
		_ = os.Remove(st.snapPath(s))
	}
	st.snaps = append([]uint64(nil), st.snaps[keepFrom:]...)
}

// historyList lists the kept entries, newest first.
func (st *store) historyList() []HistoryEntry {
	out := make([]HistoryEntry, len(st.history))
	for i, h := range st.history {
		out[len(out)-1-i] = h
	}
	return out
}

// configAt rebuilds the configuration committed as entry id.
func (st *store) configAt(id uint64) (*gen.Device, error) {
	kept := false
	for _, h := range st.history {
		kept = kept || h.ID == id
	}
	base := uint64(0)
	for _, s := range st.snaps {
		if s <= id {
			base = s
		}
	}
	if !kept || base == 0 {
		return nil, schema.Errorf(schema.TagInvalidValue, nil, "no rollback entry %d", id)
	}
	cfg, err := st.readSnapshot(base)
	if err != nil {
		return nil, err
	}
	recs, _, err := st.readSegment(base)
	if err != nil {
		return nil, err
	}
	tx := schema.NewTx(cfg)
	for _, r := range recs {
		if r.ID <= base || r.ID > id || r.Snapshot {
			continue
		}
		if err := schema.ApplyEncodedChanges(tx, r.Changes); err != nil {
			return nil, fmt.Errorf("journal, commit %d: %w", r.ID, err)
		}
	}
	return tx.Root(), nil
}

func (st *store) close() {
	if st.seg != nil {
		st.seg.Close()
		st.seg = nil
	}
}

// readStartup returns the startup configuration, or nil if there is none.
func (st *store) readStartup() ([]byte, error) {
	data, err := os.ReadFile(st.startupPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// writeStartup replaces the startup configuration atomically.
func (st *store) writeStartup(data []byte) error {
	return writeFileAtomic(st.startupPath(), data, 0o600)
}

// startupFromSnapshot makes the newest snapshot the startup file when it
// holds exactly cfg, and reports whether it did. A snapshot is written
// once (temporary file, fsync, rename) and never changed, so startup can
// be a second name of the same file: a hard link under a temporary name,
// renamed over startup, costs the same at a million bindings as at none.
// Where links are not possible (another file system) it reports false and
// the caller encodes.
func (st *store) startupFromSnapshot(cfg *gen.Device) (bool, error) {
	if cfg == nil || st.snapTree != cfg || len(st.snaps) == 0 {
		return false, nil
	}
	path := st.startupPath()
	tmp := filepath.Join(st.dir, "."+startupFile+tempMarker+"link")
	_ = os.Remove(tmp) // left by a crash
	if err := os.Link(st.snapPath(st.snaps[len(st.snaps)-1]), tmp); err != nil {
		return false, nil
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(st.dir); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// confirmPending is the persisted state of a confirmed commit awaiting
// confirmation (RFC 6241 section 8.4.1): the commit to go back to if the
// element restarts first.
type confirmPending struct {
	RevertTo uint64    `json:"revert-to"`
	Since    time.Time `json:"since"`
}

func (st *store) setConfirm(c confirmPending) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(st.dir, confirmFile), data, 0o600)
}

func (st *store) clearConfirm() error {
	err := os.Remove(filepath.Join(st.dir, confirmFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(st.dir)
}

func (st *store) readConfirm() (*confirmPending, error) {
	data, err := os.ReadFile(filepath.Join(st.dir, confirmFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c confirmPending
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", confirmFile, err)
	}
	return &c, nil
}

// writeFileAtomic writes data to a temporary file beside path, flushes it
// to disk, renames it over path and flushes the directory, so that path is
// at every moment either the old file or the new one, complete.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempMarker+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
