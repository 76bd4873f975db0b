package netconf

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzFraming feeds arbitrary bytes to the reader of both framings: it
// must never panic, never return more than the limit, and a message it
// returns must come back unchanged through the writer and reader.
func FuzzFraming(f *testing.F) {
	for _, seed := range []string{
		"<hello/>]]>]]>",
		"\n#4\nabcd\n##\n",
		"\n#2\nab\n#3\ncde\n##\n",
		"\n#0\n\n##\n",
		"\n#99999999999\n",
		"  \n<rpc/>]]>]]><rpc/>]]>]]>",
		"\n#3\nab",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, chunked bool) {
		fr := newFramer(bytes.NewReader(data), io.Discard, 1024)
		fr.chunked = chunked
		for i := 0; i < 16; i++ {
			msg, err := fr.readMessage()
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrFraming) || errors.Is(err, ErrTooBig) {
					return
				}
				t.Fatalf("unexpected error %v", err)
			}
			if len(msg) > 1024 {
				t.Fatalf("message of %d bytes passed a 1024-byte limit", len(msg))
			}
			var buf bytes.Buffer
			w := newFramer(nil, &buf, 1024)
			w.chunked = true
			if len(msg) == 0 {
				continue
			}
			if err := w.writeMessage(msg); err != nil {
				t.Fatal(err)
			}
			back, err := newFramerChunked(&buf).readMessage()
			if err != nil || !bytes.Equal(back, msg) {
				t.Fatalf("round trip: %q -> %q (%v)", msg, back, err)
			}
		}
	})
}

func newFramerChunked(r io.Reader) *framer {
	fr := newFramer(r, io.Discard, 1<<20)
	fr.chunked = true
	return fr
}

// FuzzRPC sends arbitrary messages through parsing and dispatch of a
// session's rpc handling: errors are fine, panics are not.
func FuzzRPC(f *testing.F) {
	for _, seed := range []string{
		`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>`,
		`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><edit-config><target><running/></target><config><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>a</name><detection-multiplier>3</detection-multiplier></profile></profiles></bfd></config></edit-config></rpc>`,
		`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get><filter type="xpath" xmlns:b="urn:wirebeat:bfd" select="/b:bfd/b:profiles/b:profile[b:name='a']|/b:bfd"/></get></rpc>`,
		`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get-config><source><running/></source><filter><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>a</name></profile></profiles></bfd></filter></get-config></rpc>`,
		`<rpc><x:y xmlns:x="u"/></rpc>`,
		`<a><b></a>`,
	} {
		f.Add([]byte(seed))
	}
	e := startElement(f)
	sess := &session{srv: e.nc, core: e.core.OpenSession("admin", 3, "netconf", "fuzz"), fr: newFramer(bytes.NewReader(nil), io.Discard, 1<<20), notifStop: make(chan struct{})}
	f.Fuzz(func(t *testing.T, data []byte) {
		sess.handle(data)
	})
}
