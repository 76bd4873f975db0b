package gnmi_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server/gnmi"
)

// TestSlowSubscriberCutOff: a subscriber that stops reading is cut off
// with RESOURCE_EXHAUSTED once its queue fills, while a fast one receives
// every update and the publisher never waits.
func TestSlowSubscriberCutOff(t *testing.T) {
	const queue = 64
	el := start(t, func(o *gnmi.Options) { o.QueueLen = queue })
	el.addSessions(t, 2)
	l := list(gpb.SubscriptionList_STREAM, onChange(t, "/bfd/single-hop/session/state/local-state"))
	l.UpdatesOnly = true

	// The slow client never reads after sync: its stream is opened
	// without the background reader.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, err := el.client(t, "view", viewPass).Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slow.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: l}})
	if r, err := slow.Recv(); err != nil || !r.GetSyncResponse() {
		t.Fatalf("slow sync: %v %v", r, err)
	}

	fast := el.el(t, l)
	var got atomic.Int64
	go func() {
		for r := range fast.msgs {
			got.Add(int64(len(r.GetUpdate().GetUpdate())))
		}
	}()

	hub := el.srv.Hub()
	waitSubs := func(n int) bool { return hub.Stats().Subscribers == n }
	if !waitSubs(2) {
		t.Fatalf("subscribers: %+v", hub.Stats())
	}
	// Publish until the slow one is cut off, never more than queue/2
	// ahead of the fast one, bounded in count and time.
	const max = 500000
	deadline := time.Now().Add(60 * time.Second)
	sent := 0
	upd := []events.Update{{Path: sessionPath("eth0", "10.0.0.1", "state", "local-state"), Value: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: "up"}}}}
	for ; sent < max && time.Now().Before(deadline) && hub.Stats().Subscribers == 2; sent++ {
		for int64(sent)-got.Load() > queue/2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Microsecond)
		}
		hub.Publish(events.Event{Time: time.Now(), Kind: events.StateChange, Updates: upd})
	}
	if hub.Stats().Subscribers != 1 {
		t.Fatalf("slow subscriber not cut off after %d events: %+v", sent, hub.Stats())
	}
	// The fast one goes on receiving everything.
	for i := 0; i < 1000; i++ {
		for int64(sent)-got.Load() > queue/2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Microsecond)
		}
		el.engine.setState("eth0", "10.0.0.1", gen.WirebeatBfd_BfdState_up)
		sent++
	}
	for got.Load() < int64(sent) && time.Now().Before(deadline.Add(waitLimit)) {
		time.Sleep(time.Millisecond)
	}
	if got.Load() != int64(sent) {
		select {
		case err := <-fast.err:
			t.Errorf("fast subscription ended: %v", err)
		default:
		}
		t.Errorf("fast subscriber got %d of %d updates; hub %+v", got.Load(), sent, hub.Stats())
	}
	// The slow one, reading again, finds what was queued and then the
	// reason it was cut off.
	for {
		_, err := slow.Recv()
		if err != nil {
			wantCode(t, err, codes.ResourceExhausted, "slow subscriber")
			t.Logf("cut off after %d events: %v", sent, err)
			break
		}
	}
}

// el opens a subscription read in the background (alias kept short for
// the test above).
func (el *element) el(t *testing.T, l *gpb.SubscriptionList) *subClient {
	s := subscribe(t, el.client(t, "view", viewPass), l)
	s.untilSync()
	return s
}
