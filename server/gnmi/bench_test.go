package gnmi_test

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
)

// The engines are not written yet: events are published to the hub as the
// BFD engine will publish them (one StateChange with one leaf update per
// session state change), and state is rendered by the BFD stand-in of the
// tests.

// benchStream opens an updates_only ON_CHANGE subscription to every
// session's local-state and counts the updates it receives.
func benchStream(b *testing.B, el *element, count *atomic.Int64, stamps chan<- int64) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	stream, err := el.client(b, "view", viewPass).Subscribe(ctx)
	if err != nil {
		b.Fatal(err)
	}
	l := &gpb.SubscriptionList{Mode: gpb.SubscriptionList_STREAM, UpdatesOnly: true,
		Subscription: []*gpb.Subscription{{Path: path(b, "/bfd/single-hop/session/state/local-state"), Mode: gpb.SubscriptionMode_ON_CHANGE}}}
	if err := stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: l}}); err != nil {
		b.Fatal(err)
	}
	if r, err := stream.Recv(); err != nil || !r.GetSyncResponse() {
		b.Fatalf("sync: %v %v", r, err)
	}
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			if n := r.GetUpdate(); n != nil {
				if stamps != nil {
					stamps <- time.Now().UnixNano() - n.Timestamp
				}
				count.Add(int64(len(n.Update)))
			}
		}
	}()
}

func stateEvent(i int) events.Event {
	v := "up"
	if i%2 == 1 {
		v = "down"
	}
	return events.Event{Time: time.Now(), Kind: events.StateChange, Updates: []events.Update{{
		Path:  sessionPath("eth0", "10.0.0.1", "state", "local-state"),
		Value: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: v}},
	}}}
}

// BenchmarkOnChangeUpdates measures ON_CHANGE updates per second delivered
// over gRPC/TLS to 1 and 10 subscribers. The publisher stays at most
// window events ahead of the slowest subscriber, so that none is cut off.
func BenchmarkOnChangeUpdates(b *testing.B) {
	for _, subs := range []int{1, 10} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			el := start(b)
			el.addSessions(b, 2)
			counts := make([]*atomic.Int64, subs)
			for i := range counts {
				counts[i] = new(atomic.Int64)
				benchStream(b, el, counts[i], nil)
			}
			hub := el.srv.Hub()
			const window = 1024
			slowest := func() int64 {
				m := counts[0].Load()
				for _, c := range counts[1:] {
					m = min(m, c.Load())
				}
				return m
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				for int64(i)-slowest() > window {
					time.Sleep(20 * time.Microsecond)
				}
				hub.Publish(stateEvent(i))
			}
			deadline := time.Now().Add(time.Minute)
			for slowest() < int64(b.N) && time.Now().Before(deadline) {
				time.Sleep(100 * time.Microsecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if slowest() < int64(b.N) {
				b.Fatalf("delivered %d of %d", slowest(), b.N)
			}
			b.ReportMetric(float64(b.N*subs)/elapsed.Seconds(), "updates/s")
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
		})
	}
}

// BenchmarkEventToWire measures the latency from an event's publication
// on the hub to its update decoded by a subscriber on loopback, one event
// at a time.
func BenchmarkEventToWire(b *testing.B) {
	el := start(b)
	el.addSessions(b, 2)
	var count atomic.Int64
	stamps := make(chan int64, 1)
	benchStream(b, el, &count, stamps)
	hub := el.srv.Hub()
	lat := make([]int64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hub.Publish(stateEvent(i))
		select {
		case d := <-stamps:
			lat = append(lat, d)
		case <-time.After(10 * time.Second):
			b.Fatal("update not received")
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2])/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e3, "p99-µs")
}

// BenchmarkGetFullState measures a Get of the whole tree (configuration
// and state, JSON_IETF) with 10,000 configured BFD sessions whose state
// the stand-in renders.
func BenchmarkGetFullState(b *testing.B) {
	const sessions = 10000
	el := start(b)
	el.addSessions(b, sessions)
	c := el.client(b, "view", viewPass)
	for _, tc := range []struct {
		name string
		req  *gpb.GetRequest
	}{
		{"root-ALL", &gpb.GetRequest{Path: []*gpb.Path{{}}, Type: gpb.GetRequest_ALL, Encoding: gpb.Encoding_JSON_IETF}},
		{"bfd-STATE", &gpb.GetRequest{Path: []*gpb.Path{path(b, "/bfd")}, Type: gpb.GetRequest_STATE, Encoding: gpb.Encoding_JSON_IETF}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var size int
			for i := 0; i < b.N; i++ {
				resp, err := c.Get(context.Background(), tc.req)
				if err != nil {
					b.Fatal(err)
				}
				size = len(resp.Notification[0].Update[0].Val.GetJsonIetfVal())
			}
			b.ReportMetric(float64(size), "bytes")
			b.ReportMetric(sessions, "sessions")
		})
	}
}
