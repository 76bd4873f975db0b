package netconf

import (
	"bufio"
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/server"
)

// Notification replay (RFC 5277 section 2.1.1, startTime and stopTime).
// Every notification of the NETCONF stream is kept, rendered, in a log
// bounded in entries and bytes, in memory and in DATADIR/notifications.log
// (one notification a line: the rendering escapes newlines), so that the
// history survives a restart. When the file outgrows its bound it is
// rewritten from the entries kept. The log is fed from the event hub like
// any subscriber: if it falls behind, the hub cuts it off and it
// subscribes again, with a gap it logs.

// Bounds of the replay log; variables so that tests can make them small.
var (
	replayMaxEntries = 10000
	replayMaxBytes   = 8 << 20
)

const replayFile = "notifications.log"

type replayEntry struct {
	time time.Time
	msg  []byte // the whole <notification>
}

type replayLog struct {
	mu      sync.Mutex
	path    string
	entries []replayEntry
	bytes   int
	f       *os.File
	fileLen int
	log     *slog.Logger
	// the bounds, fixed when the log is opened
	maxEntries, maxBytes int
	// created is when the log began (its first entry when one was kept
	// from an earlier run), aged the time of the last entry dropped over
	// the bounds: RFC 8639's replay-log-creation-time and -aged-time.
	created, aged time.Time
}

// openReplayLog loads what an earlier run kept and opens the file for
// appending.
func openReplayLog(dir string, log *slog.Logger) (*replayLog, error) {
	r := &replayLog{path: filepath.Join(dir, replayFile), log: log, maxEntries: replayMaxEntries, maxBytes: replayMaxBytes}
	if b, err := os.ReadFile(r.path); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 64<<10), r.maxBytes+64)
		for sc.Scan() {
			line := sc.Bytes()
			ts, msg, ok := bytes.Cut(line, []byte{' '})
			t, err := time.Parse(time.RFC3339Nano, string(ts))
			if !ok || err != nil || !bytes.HasPrefix(msg, []byte("<notification")) {
				continue // a torn last line after a crash
			}
			r.add(t, append([]byte(nil), msg...))
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	r.created = time.Now()
	if len(r.entries) > 0 && r.aged.IsZero() {
		r.created = r.entries[0].time
	} else if !r.aged.IsZero() {
		r.created = r.aged
	}
	if err := r.rewrite(); err != nil {
		return nil, err
	}
	return r, nil
}

// add keeps an entry in memory, dropping the oldest over the bounds.
func (r *replayLog) add(t time.Time, msg []byte) {
	r.entries = append(r.entries, replayEntry{t, msg})
	r.bytes += len(msg)
	drop := 0
	for len(r.entries)-drop > r.maxEntries || (r.bytes > r.maxBytes && len(r.entries)-drop > 1) {
		r.bytes -= len(r.entries[drop].msg)
		r.aged = r.entries[drop].time
		drop++
	}
	if drop > 0 {
		r.entries = append(r.entries[:0:0], r.entries[drop:]...)
	}
}

// rewrite replaces the file with the entries kept and reopens it.
func (r *replayLog) rewrite() error {
	if r.f != nil {
		r.f.Close()
	}
	tmp := r.path + ".tmp"
	var b bytes.Buffer
	for _, e := range r.entries {
		b.WriteString(e.time.UTC().Format(time.RFC3339Nano))
		b.WriteByte(' ')
		b.Write(e.msg)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, r.path); err != nil {
		return err
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	r.f, r.fileLen = f, b.Len()
	return nil
}

// append records one notification.
func (r *replayLog) append(t time.Time, msg []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(t, msg)
	line := t.UTC().Format(time.RFC3339Nano) + " " + string(msg) + "\n"
	if r.fileLen+len(line) > 2*r.maxBytes {
		if err := r.rewrite(); err != nil {
			r.log.Warn("notification log: rewrite failed", "err", err)
		}
		return
	}
	if _, err := r.f.WriteString(line); err != nil {
		r.log.Warn("notification log: write failed", "err", err)
		return
	}
	r.fileLen += len(line)
}

// between returns the entries with start <= time (and time <= stop when
// stop is not zero).
func (r *replayLog) between(start, stop time.Time) []replayEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []replayEntry
	for _, e := range r.entries {
		if e.time.Before(start) || (!stop.IsZero() && e.time.After(stop)) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// since returns the entries from start on, and the earliest time the log
// covers (replay-start-time-revision, when later than start).
func (r *replayLog) since(start time.Time) ([]replayEntry, time.Time) {
	out := r.between(start, time.Time{})
	r.mu.Lock()
	defer r.mu.Unlock()
	covered := r.created
	if !r.aged.IsZero() {
		covered = r.aged
	}
	return out, covered
}

// run feeds the log from the hub until the hub closes.
func (s *Server) runReplayLog(r *replayLog) {
	for {
		sub := s.core.Hub().Subscribe(notifQueue, func(e *events.Event) bool {
			return e.Kind == events.Notification || e.Kind == events.ConfigChange
		})
		for e := range sub.C {
			if msg, ok := s.renderNotification(&e, nil); ok {
				r.append(e.Time, msg)
			}
		}
		if !errors.Is(sub.Err(), server.ErrSlowConsumer) {
			return
		}
		s.log.Warn("notification log fell behind: notifications lost from the replay history")
	}
}

// replayComplete and notificationComplete end the replay and the
// subscription (RFC 5277 section 2.2.1).
func controlNotification(name string) []byte {
	return []byte(`<notification xmlns="` + nsNotif + `"><eventTime>` + time.Now().UTC().Format(time.RFC3339Nano) +
		`</eventTime><` + name + ` xmlns="urn:ietf:params:xml:ns:netmod:notification"/></notification>`)
}
