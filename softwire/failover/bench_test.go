package failover

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/bindstore"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/tools/etcdtest"
)

const burstB4s = 100000

var (
	burstOnce  sync.Once
	burstStore *bindstore.Store
)

// burstB4 is new B4 i of the burst: 10.0.0.0 + i, the whole address.
func burstBinding(i int) bindingtable.Softwire {
	var a [16]byte
	a[0], a[1], a[2] = 0x20, 0x01, 0x0e
	binary.BigEndian.PutUint32(a[12:], uint32(i))
	return bindingtable.Softwire{IPv4: 0x0a000000 + uint32(i), PortSet: bindingtable.PortSet{}, B4: a, BR: anycast}
}

// warmBurstStore writes the burst's bindings to a real etcd member (in
// transactions of 128) and loads them into a store's cache. The cache is
// kept for later runs of the benchmark: validations of the burst are all
// cache hits, which need no etcd.
func warmBurstStore(b *testing.B) *bindstore.Store {
	burstOnce.Do(func() {
		c := etcdtest.Start(b, 1)
		cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer cli.Close()
		ops := make([]clientv3.Op, 0, 128)
		for i := range burstB4s {
			sw := burstBinding(i)
			ops = append(ops, clientv3.OpPut(bindstore.Key(bindstore.DefaultPrefix, sw.IPv4, 0), string(bindstore.Encode(sw))))
			if len(ops) == cap(ops) || i == burstB4s-1 {
				if _, err := cli.Txn(context.Background()).Then(ops...).Commit(); err != nil {
					b.Fatal(err)
				}
				ops = ops[:0]
			}
		}
		s, err := bindstore.Open(bindstore.Config{Endpoints: c.Endpoints(), Log: quietLog, QueryTimeout: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.WaitSynced(context.Background()); err != nil {
			b.Fatal(err)
		}
		burstStore = s
	})
	if burstStore == nil || burstStore.Len() != burstB4s {
		b.Fatal("burst store not warmed")
	}
	return burstStore
}

type countSink struct{ n int }

func (c *countSink) Send(lwaftr.Port, []byte) { c.n++ }

// BenchmarkBurstOfNewB4s: 100,000 B4s the backup has never seen arrive
// at once (one packet each, amid a stream of known B4s' packets, 10 known
// for each new): bindings created per second, and the forwarding rate of
// the known B4s during the burst against a quiet run (burst/quiet is the
// figure of merit; 1.0 means the burst costs the known B4s nothing).
func BenchmarkBurstOfNewB4s(b *testing.B) {
	st := warmBurstStore(b)
	known := make([]bindingtable.Softwire, 1000)
	frames := make([][]byte, len(known))
	for i := range known {
		known[i] = binding(i)
		frames[i] = fromB4(known[i].B4, anycast, known[i].IPv4, portOf(i))
	}
	newFrames := make([][]byte, burstB4s)
	for i := range newFrames {
		sw := burstBinding(i)
		newFrames[i] = fromB4(sw.B4, anycast, sw.IPv4, 1234)
	}
	for b.Loop() {
		bt, _ := lwaftr.NewTable(known)
		out := &countSink{}
		e, err := lwaftr.New(engineConfig("2001:db8:2::1"), bt, out)
		if err != nil {
			b.Fatal(err)
		}
		m, err := New(Config{Mode: DataPacketTrigger, Anycast: anycast, Log: quietLog, QueryRate: 1e9, QueryBurst: 1e6,
			MaxPending: 4096, QueueDepth: 2, MaxDynamic: 2 * burstB4s, Workers: 2}, st, nil)
		if err != nil {
			b.Fatal(err)
		}
		e.SetUnknownSource(m)
		const knownPkts = 10 * burstB4s
		// Quiet: known B4s only.
		t0 := time.Now()
		for i := range knownPkts {
			e.Receive(lwaftr.Internal, frames[i%len(frames)])
			if i%64 == 63 {
				e.Flush()
			}
		}
		e.Flush()
		quiet := time.Since(t0)
		// Burst: the same known stream with a new B4 every 10 packets,
		// then flushing until every new B4 has its binding. A new B4 that
		// found the waiting slots full is sent again on the next pass, as
		// its TCP would retransmit.
		t0 = time.Now()
		next := 0
		var knownTime time.Duration
		for pass := 0; m.C.Created.Load() < burstB4s && pass < 1000; pass++ {
			tk := time.Now()
			for i := range knownPkts {
				e.Receive(lwaftr.Internal, frames[i%len(frames)])
				if i%10 == 0 && next < burstB4s {
					e.Receive(lwaftr.Internal, newFrames[next])
					next++
				}
				if i%64 == 63 {
					e.Flush()
				}
			}
			e.Flush()
			if pass == 0 {
				knownTime = time.Since(tk)
			}
			if next == burstB4s {
				// Resend those still without a binding.
				next = int(m.C.Created.Load())
				for j := range burstB4s {
					sw := burstBinding(j)
					if _, ok := e.Table().Get(sw.IPv4, 0); !ok {
						next = j
						break
					}
				}
			}
		}
		created := time.Since(t0)
		if m.C.Created.Load() != burstB4s {
			b.Fatalf("created %d of %d", m.C.Created.Load(), burstB4s)
		}
		m.Close()
		b.ReportMetric(float64(burstB4s)/created.Seconds(), "bindings/s")
		qm := float64(knownPkts) / quiet.Seconds() / 1e6
		bm := float64(knownPkts) / knownTime.Seconds() / 1e6
		b.ReportMetric(qm, "quiet-Mpps")
		b.ReportMetric(bm, "burst-Mpps")
		b.ReportMetric(bm/qm, "burst/quiet")
	}
}
