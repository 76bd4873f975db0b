package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wirebeat/wirebeat/schema"
)

// Files of the datadir that the store owns.
const (
	startupFile  = "startup.json"
	rollbackDir  = "rollback"
	rollbackExt  = ".json"
	rollbackMeta = ".meta"
)

// store persists the startup configuration and the rollback history in the
// datadir. Every write is atomic: a crash at any point leaves either the old
// or the new file, complete.
type store struct {
	dir  string
	keep int
}

// HistoryEntry describes one committed configuration kept for rollback.
type HistoryEntry struct {
	ID        uint64    `json:"id"`
	Time      time.Time `json:"time"`
	User      string    `json:"user"`
	Transport string    `json:"transport"`
	Comment   string    `json:"comment,omitempty"`
}

func openStore(dir string, keep int) (*store, error) {
	if err := os.MkdirAll(filepath.Join(dir, rollbackDir), 0o700); err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	return &store{dir: dir, keep: keep}, nil
}

func (st *store) startupPath() string { return filepath.Join(st.dir, startupFile) }

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

// commit makes data the startup configuration and records it in the
// rollback history as entry h. The history file is a hard link to the same
// inode, so keeping history costs no second write of a large configuration.
func (st *store) commit(h HistoryEntry, data []byte) error {
	if err := st.writeStartup(data); err != nil {
		return err
	}
	name := filepath.Join(st.dir, rollbackDir, historyName(h.ID))
	_ = os.Remove(name) // left over from a crash before this ID was acknowledged
	if err := os.Link(st.startupPath(), name); err != nil {
		if err := writeFileAtomic(name, data, 0o600); err != nil {
			return fmt.Errorf("rollback history: %w", err)
		}
	}
	meta, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(strings.TrimSuffix(name, rollbackExt)+rollbackMeta, meta, 0o600); err != nil {
		return fmt.Errorf("rollback history: %w", err)
	}
	return st.prune()
}

func historyName(id uint64) string { return fmt.Sprintf("%012d%s", id, rollbackExt) }

// history lists the kept entries, newest first.
func (st *store) history() ([]HistoryEntry, error) {
	dir := filepath.Join(st.dir, rollbackDir)
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("rollback history: %w", err)
	}
	var out []HistoryEntry
	for _, de := range names {
		n := de.Name()
		if !strings.HasSuffix(n, rollbackExt) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(n, rollbackExt), 10, 64)
		if err != nil {
			continue
		}
		h := HistoryEntry{ID: id}
		if meta, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(n, rollbackExt)+rollbackMeta)); err == nil {
			_ = json.Unmarshal(meta, &h)
			h.ID = id
		} else if fi, err := de.Info(); err == nil {
			h.Time = fi.ModTime()
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

// readHistory returns the configuration committed as entry id.
func (st *store) readHistory(id uint64) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(st.dir, rollbackDir, historyName(id)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, schema.Errorf(schema.TagInvalidValue, nil, "no rollback entry %d", id)
	}
	return data, err
}

// prune removes all but the newest keep entries.
func (st *store) prune() error {
	h, err := st.history()
	if err != nil {
		return err
	}
	for i := st.keep; i < len(h); i++ {
		base := filepath.Join(st.dir, rollbackDir, strings.TrimSuffix(historyName(h[i].ID), rollbackExt))
		if err := os.Remove(base + rollbackExt); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("prune rollback history: %w", err)
		}
		_ = os.Remove(base + rollbackMeta)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path, flushes it
// to disk, renames it over path and flushes the directory, so that path is
// at every moment either the old file or the new one, complete.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
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
