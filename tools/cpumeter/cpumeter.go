// Package cpumeter adds up the CPU time (user and system, all threads,
// the collector's included) a process spends in the measured parts of a
// benchmark. Wall time on a shared machine is mostly waiting for a CPU;
// CPU seconds are what the code costs.
package cpumeter

import (
	"syscall"
	"testing"
	"time"
)

// Meter sums the process CPU time between Begin and End calls.
type Meter struct {
	start, total time.Duration
}

// Process is the CPU time the process has used so far.
func Process() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Begin starts a measured part.
func (m *Meter) Begin() { m.start = Process() }

// End ends it.
func (m *Meter) End() { m.total += Process() - m.start }

// Report adds the cpu-s/op metric to b.
func (m *Meter) Report(b *testing.B) {
	b.ReportMetric(m.total.Seconds()/float64(b.N), "cpu-s/op")
}
