package server

import (
	"os"
	"runtime/debug"
	"sync"
)

// bulkLoadMin is the size of a saved configuration from which a boot
// pauses the garbage collector while it loads it.
const bulkLoadMin = 8 << 20

// pauseGC turns the collector's pacing off while a configuration of size
// bytes is loaded, and returns what turns it on again. The load builds a
// tree that stays live as a whole; with the default pacing the collector
// runs a cycle each time the heap doubles and marks the growing tree again
// and again, which at a million bindings was 40% of the boot's CPU time
// (BenchmarkBoot1M) for nothing freed. A memory limit set by the operator
// (GOMEMLIMIT) still applies: the collector runs when the heap reaches it.
// Small configurations keep the normal pacing.
//
// The setting is process-wide, so overlapping loads (tests start many
// elements in one process) share one pause: the first turns pacing off,
// the last restores it.
func pauseGC(size int64) (resume func()) {
	if size < bulkLoadMin {
		return func() {}
	}
	gcPause.Lock()
	if gcPause.n == 0 {
		gcPause.saved = debug.SetGCPercent(-1)
	}
	gcPause.n++
	gcPause.Unlock()
	return func() {
		gcPause.Lock()
		defer gcPause.Unlock()
		if gcPause.n--; gcPause.n == 0 {
			debug.SetGCPercent(gcPause.saved)
		}
	}
}

var gcPause struct {
	sync.Mutex
	n     int
	saved int
}

// bootSize is the size of the snapshot boot will read (0 if none).
func (st *store) bootSize() int64 {
	if len(st.snaps) == 0 {
		return 0
	}
	fi, err := os.Stat(st.snapPath(st.snaps[len(st.snaps)-1]))
	if err != nil {
		return 0
	}
	return fi.Size()
}
