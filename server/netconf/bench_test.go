package netconf

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/wirebeat/wirebeat/tools/cpumeter"
)

// bindingsXML is an edit-config creating n lwAFTR softwires.
func bindingsXML(n int) string {
	var b strings.Builder
	b.Grow(n * 260)
	b.WriteString(`<edit-config><target><running/></target><config><softwire xmlns="urn:wirebeat:softwire"><lwaftr><binding-table>`)
	for i := 0; i < n; i++ {
		a := i / 64
		fmt.Fprintf(&b, `<softwire><ipv4>10.%d.%d.%d</ipv4><psid>%d</psid><b4-ipv6>2001:db8:%x:%x::1</b4-ipv6><br-address>2001:db8::1</br-address><port-set><psid-length>6</psid-length></port-set></softwire>`,
			a>>16&255, a>>8&255, a&255, i%64, i>>16, i&0xffff)
	}
	b.WriteString(`</binding-table></lwaftr></softwire></config></edit-config>`)
	return b.String()
}

// One edit-config creating 100,000 binding-table entries, end to end:
// SSH, framing, XML parsing, the transaction, validation, commit, save.
func BenchmarkEditConfig100kBindings(b *testing.B) {
	req := bindingsXML(100_000)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	var cpu cpumeter.Meter
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := startElement(b, 64<<20)
		c := dial(b, e, "admin", adminPW, true)
		runtime.GC()
		b.StartTimer()
		cpu.Begin()
		wantOK(b, c.rpc(req))
		cpu.End()
	}
	cpu.Report(b)
}

// get-config of the 100,000 entries.
func BenchmarkGetConfig100kBindings(b *testing.B) {
	e := startElement(b, 64<<20)
	c := dial(b, e, "admin", adminPW, true)
	wantOK(b, c.rpc(bindingsXML(100_000)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := c.rpc(`<get-config><source><running/></source><filter><softwire xmlns="urn:wirebeat:softwire"/></filter></get-config>`)
		if !strings.Contains(r, "<psid>63</psid>") {
			b.Fatal("bindings missing from get-config")
		}
		b.SetBytes(int64(len(r)))
	}
}

// Small edit-config on the candidate plus commit: round trips per second.
func BenchmarkSmallEditCommit(b *testing.B) {
	e := startElement(b)
	c := dial(b, e, "admin", adminPW, true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wantOK(b, c.rpc(strings.Replace(profileEdit("p", i%200+1, ""), "<running/>", "<candidate/>", 1)))
		wantOK(b, c.rpc(`<commit/>`))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// 100 concurrent sessions, each committing one edit of its own.
func BenchmarkConcurrentSessions100(b *testing.B) {
	e := startElement(b)
	clients := make([]*client, 100)
	for i := range clients {
		clients[i] = dial(b, e, "admin", adminPW, true)
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := c.rpc(profileEdit(fmt.Sprintf("s%d", i), n%200+1, ""))
				if !strings.Contains(r, "<ok/>") {
					b.Error(r)
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "commits/s")
}
