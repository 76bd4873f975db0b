package interop

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/tools/netns"
)

// Scale between two elements over a veth pair: N multihop IPv6 sessions,
// each between its own pair of addresses (2001:db8:a::i <-> 2001:db8:b::i,
// both prefixes routed to lo as AnyIP), as an AFTR watching N B4s would
// see them. The figures: sessions Up at the end of the hold, false Downs
// during it, CPU of both elements per 1,000 sessions, heap per session.
//
// The defaults are the largest counts measured to hold on the 2-core
// development machine with both elements on it (100,000 at 1 s, 30,000
// at 300 ms); WIREBEAT_BFD_SCALE (sessions) and WIREBEAT_BFD_HOLD (a
// duration, default 60s) override them, e.g.
//
//	WIREBEAT_BFD_SCALE=50000 WIREBEAT_BFD_HOLD=20s go test -run '^$' -bench Scale1s ./bfd/interop/

func BenchmarkScale1s(b *testing.B)    { benchScale(b, 1_000_000, 100_000) }
func BenchmarkScale300ms(b *testing.B) { benchScale(b, 300_000, 30_000) }

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func scaleAddr(prefix string, i int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("%s%x:%x", prefix, i>>16, i&0xffff))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func benchScale(b *testing.B, interval uint32, sessions int) {
	n := envInt("WIREBEAT_BFD_SCALE", sessions)
	hold, err := time.ParseDuration(os.Getenv("WIREBEAT_BFD_HOLD"))
	if err != nil || hold <= 0 {
		hold = 60 * time.Second
	}
	nsA, nsB := netns.New(b, "scA"), netns.New(b, "scB")
	ifA, ifB := netns.Unique("ka"), netns.Unique("kb")
	netns.Veth(b, nsA, ifA, nsB, ifB)
	nsA.Addr(b, ifA, "fd95::1/64")
	nsB.Addr(b, ifB, "fd95::2/64")
	nsA.Must(b, "ip", "-6", "route", "add", "local", "2001:db8:a::/96", "dev", "lo")
	nsB.Must(b, "ip", "-6", "route", "add", "local", "2001:db8:b::/96", "dev", "lo")
	nsA.Must(b, "ip", "-6", "route", "add", "2001:db8:b::/96", "via", "fd95::2")
	nsB.Must(b, "ip", "-6", "route", "add", "2001:db8:a::/96", "via", "fd95::1")

	heap0 := heapInUse()
	ends := make([]*benchEnd, 2)
	for k, ns := range []*netns.NS{nsA, nsB} {
		ends[k] = newBenchEnd(b, ns)
	}
	for i := range n {
		la, lb := scaleAddr("2001:db8:a::", i+1), scaleAddr("2001:db8:b::", i+1)
		ends[0].add(b, la, lb, interval)
		ends[1].add(b, lb, la, interval)
	}
	perSession := float64(heapInUse()-heap0) / float64(2*n)

	allUp := func() bool {
		for _, e := range ends {
			if e.eng.Summary().Up != n {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30*time.Second + 10*time.Duration(interval)*time.Microsecond)
	for !allUp() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	upAtStart := ends[0].eng.Summary().Up
	downsBefore := ends[0].downs() + ends[1].downs()

	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	time.Sleep(hold)
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	b.StopTimer()

	up := min(ends[0].eng.Summary().Up, ends[1].eng.Summary().Up)
	falseDowns := ends[0].downs() + ends[1].downs() - downsBefore
	cpuPct := 100 * cpu.Seconds() / wall.Seconds()
	b.ReportMetric(float64(n), "sessions")
	b.ReportMetric(float64(up), "up-at-end")
	b.ReportMetric(float64(falseDowns), "false-downs")
	b.ReportMetric(cpuPct/float64(n)*1000/2, "cpu%/1k-sessions/element")
	b.ReportMetric(perSession*1000/1024, "KiB/1k-sessions/element")
	for k, ns := range []*netns.NS{nsA, nsB} {
		// Where packets were lost, if any: socket buffers or the
		// per-CPU backlog (softnet_stat's second column).
		out, _ := ns.Command("nstat", "-az", "Udp6RcvbufErrors", "Udp6SndbufErrors", "Udp6InErrors").CombinedOutput()
		b.Logf("element %c: %s", 'A'+k, compact(string(out)))
	}
	if sn, err := os.ReadFile("/proc/net/softnet_stat"); err == nil {
		b.Logf("softnet_stat: %s", compact(string(sn)))
	}
	b.Logf("%d sessions at %v: %d Up at start of the %v hold, %d at end, %d false Downs; CPU both elements %.1f%% of one core; heap %.0f B/session",
		n, time.Duration(interval)*time.Microsecond, upAtStart, hold, up, falseDowns, cpuPct, perSession)
}

type benchEnd struct {
	eng   *bfd.Engine
	tr    *transport.UDP
	discr []uint32
}

func newBenchEnd(b *testing.B, ns *netns.NS) *benchEnd {
	e := &benchEnd{eng: bfd.NewEngine(bfd.Options{SpreadFirstPacket: true})}
	if err := ns.Do(func() (err error) {
		e.tr, err = transport.Open(transport.Config{Kind: bfd.PathMultiHop, IPv6: true, AnyLocal: true, SocketBuffer: 32 << 20}, e.eng)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{}, 2)
	go func() { _ = e.tr.Run(); done <- struct{}{} }()
	go func() { e.eng.Run(contextUntil(stop)); done <- struct{}{} }()
	b.Cleanup(func() { close(stop); e.tr.Close(); <-done; <-done })
	return e
}

func (e *benchEnd) add(b *testing.B, local, remote netip.Addr, interval uint32) {
	d, err := e.eng.AddSession(bfd.SessionConfig{Path: e.tr.KeyFrom(local, remote), DesiredMinTxInterval: interval,
		RequiredMinRxInterval: interval, DetectMult: 3, MinRxTTL: 254}, e.tr)
	if err != nil {
		b.Fatal(err)
	}
	e.discr = append(e.discr, d)
}

func (e *benchEnd) downs() int {
	total := 0
	e.eng.Sessions(func(i bfd.SessionInfo) { total += int(i.DownCount) })
	return total
}

func compact(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
