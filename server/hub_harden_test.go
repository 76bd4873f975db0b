package server

import (
	"strings"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/events"
)

func bigEvent(n int) events.Event {
	return events.Event{Kind: events.StateChange, Updates: []events.Update{{
		Path:  &gpb.Path{Elem: []*gpb.PathElem{{Name: "bfd"}}},
		Value: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: strings.Repeat("x", n)}},
	}}}
}

// TestHubQueueBoundedInBytes: a subscriber that does not read is cut off
// once its queue holds QueueBytes, long before its queue is full of
// events; one that reads goes on, and what it read is no longer counted.
func TestHubQueueBoundedInBytes(t *testing.T) {
	h := NewHub()
	h.SetQueueBytes(1 << 20)
	slow := h.Subscribe(4096, nil)
	fast := h.Subscribe(4096, nil)
	sent := 0
	for ; sent < 4096 && h.Stats().Subscribers == 2; sent++ {
		h.Publish(bigEvent(64 << 10))
		<-fast.C
	}
	if h.Stats().Subscribers != 1 || slow.Err() != ErrSlowConsumer {
		t.Fatalf("after %d events of 64 KiB: %+v, slow: %v", sent, h.Stats(), slow.Err())
	}
	t.Logf("cut off after %d events of 64 KiB", sent)
	if sent > 17 {
		t.Errorf("cut off after %d events of 64 KiB, over 1 MiB", sent)
	}
	for i := 0; i < 1000; i++ {
		h.Publish(bigEvent(64 << 10))
		<-fast.C
	}
	if fast.Err() != nil {
		t.Errorf("reading subscriber cut off: %v", fast.Err())
	}
}
