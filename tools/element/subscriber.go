package element

import (
	"bufio"
	"strings"
	"sync"
	"testing"
	"time"
)

// Subscriber is an ncclient NETCONF session with an RFC 5277
// subscription to the element's default stream; it keeps every
// notification as a line, with the time it arrived.
type Subscriber struct {
	e     *Element
	mu    sync.Mutex
	lines []Line
	ended bool // the session is gone: no line will come
}

// Line is one notification (its XML on one line) and when it came.
type Line struct {
	At   time.Time
	Text string
}

const subscribeScript = `
import sys
from ncclient import manager
host, port = sys.argv[1].rsplit(':', 1)
with manager.connect(host=host, port=int(port), username='admin', password=sys.argv[2], hostkey_verify=False,
                     allow_agent=False, look_for_keys=False, timeout=30) as m:
    m.create_subscription()
    print("SUBSCRIBED", flush=True)
    while True:
        n = m.take_notification(block=True, timeout=120)
        if n is None:
            continue
        print(n.notification_xml.replace("\n", " "), flush=True)
`

// subscribeWithin bounds the NETCONF login and <create-subscription>.
const subscribeWithin = 30 * time.Second

// Subscribe opens a subscriber in the element's namespace and waits until
// the subscription is made; it lasts until the test ends.
func (e *Element) Subscribe(t testing.TB) *Subscriber {
	t.Helper()
	s := &Subscriber{e: e}
	cmd := e.Command(Python, "-u", "-c", subscribeScript, e.NETCONF, Password)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, Line{At: time.Now(), Text: strings.TrimSpace(sc.Text())})
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
	}()
	s.Wait(t, subscribeWithin, "the subscription to "+e.Name, "SUBSCRIBED")
	return s
}

// Find returns the first line that contains every one of subs.
func (s *Subscriber) Find(subs ...string) (Line, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if containsAll(l.Text, subs) {
			return l, true
		}
	}
	return Line{}, false
}

// Has reports whether a line contains every one of subs.
func (s *Subscriber) Has(subs ...string) bool {
	_, ok := s.Find(subs...)
	return ok
}

// Last returns the text of the last line that contains every one of subs
// ("" when none does).
func (s *Subscriber) Last(subs ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.lines) - 1; i >= 0; i-- {
		if containsAll(s.lines[i].Text, subs) {
			return s.lines[i].Text
		}
	}
	return ""
}

// Wait waits up to d for a line that contains every one of subs and
// returns it; the test fails, with every line and the element's log, when
// none comes in time or the session ends first.
func (s *Subscriber) Wait(t testing.TB, d time.Duration, what string, subs ...string) Line {
	t.Helper()
	for end := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		s.mu.Lock()
		ended := s.ended // read first: a line before the end is seen below
		s.mu.Unlock()
		if l, ok := s.Find(subs...); ok {
			return l
		}
		if ended || time.Now().After(end) {
			why := "timed out after " + d.String()
			if ended {
				why = "the NETCONF session ended"
			}
			t.Fatalf("%s waiting for %s; notifications:\n%s\n%s log:\n%s", why, what, s.Dump(), s.e.Name, s.e.Log())
		}
	}
}

// Dump is every line, for a failure message.
func (s *Subscriber) Dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, l := range s.lines {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

func containsAll(l string, subs []string) bool {
	for _, x := range subs {
		if !strings.Contains(l, x) {
			return false
		}
	}
	return true
}
