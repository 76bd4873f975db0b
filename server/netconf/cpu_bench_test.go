package netconf

import (
	"syscall"
	"testing"
	"time"
)

// cpuMeter adds up the CPU time (user and system, all threads, the
// collector's included) the process spends in the measured parts of a
// benchmark. Wall time on a shared machine is mostly waiting for a CPU;
// CPU seconds are what the code costs.
type cpuMeter struct {
	start, total time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (m *cpuMeter) begin() { m.start = processCPU() }
func (m *cpuMeter) end()   { m.total += processCPU() - m.start }

// report adds the cpu-s/op metric.
func (m *cpuMeter) report(b *testing.B) {
	b.ReportMetric(m.total.Seconds()/float64(b.N), "cpu-s/op")
}
