package interop

import (
	"context"
	"log/slog"
	"testing"
)

// testLog is an slog handler that writes to t.Log, so engine events show
// up with the failing test.
type testLog struct{ t *testing.T }

func (h testLog) Enabled(context.Context, slog.Level) bool { return true }
func (h testLog) Handle(_ context.Context, r slog.Record) error {
	s := r.Message
	r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
	h.t.Log(s)
	return nil
}
func (h testLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h testLog) WithGroup(string) slog.Handler      { return h }
