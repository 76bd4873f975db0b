package kea

import (
	"strings"
	"sync"
)

var mu sync.Mutex

// syncWriter lets Kea's stdout and stderr share one log read by tests.
type syncWriter struct{ b *strings.Builder }

func (w *syncWriter) Write(p []byte) (int, error) {
	mu.Lock()
	defer mu.Unlock()
	return w.b.Write(p)
}
