package netconf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Framing of RFC 6242: end-of-message (base:1.0) and chunked (base:1.1).

// eom ends a message in base:1.0 framing.
var eom = []byte("]]>]]>")

// Framing errors. After ErrFraming or ErrTooBig the byte stream cannot be
// resynchronised and the session closes; a message that frames correctly
// but does not parse leaves the session usable.
var (
	ErrFraming = errors.New("netconf: malformed framing")
	ErrTooBig  = errors.New("netconf: message exceeds the size limit")
)

// maxChunkSize is the largest chunk RFC 6242 section 4.2 allows.
const maxChunkSize = 4294967295

// framer reads and writes messages on one session's byte stream.
//
// A message's buffer grows with the bytes that actually arrive, never
// with what a chunk header announces: "#67000000" costs nothing until 67
// MB are sent. With a budget, every growth of the buffer is reserved from
// it first (held, given back by release), so that all sessions together
// hold at most the element's parse memory.
type framer struct {
	r       *bufio.Reader
	w       io.Writer
	chunked bool
	max     int

	reserve func(n int64) error // nil: no budget
	free    func(n int64)
	held    int64
}

// readStep is the most a chunk read appends at a time.
const readStep = 64 << 10

// grow makes room for n more bytes in msg, reserving what a new buffer
// costs.
func (f *framer) grow(msg []byte, n int) ([]byte, error) {
	if cap(msg)-len(msg) >= n {
		return msg, nil
	}
	want := max(2*cap(msg), len(msg)+n, 4096)
	if want > f.max+len(eom) {
		want = max(f.max+len(eom), len(msg)+n)
	}
	if err := f.take(int64(want)); err != nil {
		return nil, err
	}
	out := make([]byte, len(msg), want)
	copy(out, msg)
	f.giveBack(int64(cap(msg)))
	return out, nil
}

func (f *framer) take(n int64) error {
	if f.reserve == nil {
		return nil
	}
	if err := f.reserve(n); err != nil {
		return err
	}
	f.held += n
	return nil
}

func (f *framer) giveBack(n int64) {
	if f.reserve == nil || n == 0 {
		return
	}
	f.held -= n
	f.free(n)
}

// release gives back everything held for the last message: call it once
// the message and what was parsed from it are no longer used.
func (f *framer) release() {
	if f.held > 0 {
		f.free(f.held)
		f.held = 0
	}
}

func newFramer(r io.Reader, w io.Writer, max int) *framer {
	return &framer{r: bufio.NewReaderSize(r, 64<<10), w: w, max: max}
}

// readMessage returns the next message. Before chunked framing is on, a
// message that starts like a chunk is still read as chunked: some clients
// switch before the server's hello has reached them, and RFC 6242 section
// 4.1 lets the server accept it.
func (f *framer) readMessage() ([]byte, error) {
	if f.chunked {
		return f.readChunked()
	}
	// Skip whitespace between messages, then look at how this one starts.
	for {
		b, err := f.r.Peek(1)
		if err != nil {
			return nil, err
		}
		if f.startsChunk() {
			return f.readChunked()
		}
		if b[0] != ' ' && b[0] != '\t' && b[0] != '\r' && b[0] != '\n' {
			break
		}
		f.r.ReadByte()
	}
	return f.readEOM()
}

func (f *framer) startsChunk() bool {
	b, err := f.r.Peek(2)
	return err == nil && b[0] == '\n' && b[1] == '#'
}

func (f *framer) readEOM() ([]byte, error) {
	var msg []byte
	for {
		line, err := f.r.ReadSlice('>')
		if len(msg)+len(line) > f.max+len(eom) {
			return nil, ErrTooBig
		}
		var gerr error
		if msg, gerr = f.grow(msg, len(line)); gerr != nil {
			return nil, gerr
		}
		msg = append(msg, line...)
		if bytes.HasSuffix(msg, eom) {
			return msg[:len(msg)-len(eom)], nil
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(bytes.TrimSpace(msg)) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// readChunked reads chunks up to the end-of-chunks marker (section 4.2).
func (f *framer) readChunked() ([]byte, error) {
	var msg []byte
	for {
		if err := f.expect('\n'); err != nil {
			return nil, err
		}
		if err := f.expect('#'); err != nil {
			return nil, err
		}
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, eofInMessage(err)
		}
		if c == '#' {
			if err := f.expect('\n'); err != nil {
				return nil, err
			}
			if len(msg) == 0 {
				return nil, fmt.Errorf("%w: end of chunks before any chunk", ErrFraming)
			}
			return msg, nil
		}
		if c < '1' || c > '9' {
			return nil, fmt.Errorf("%w: chunk size must start with 1-9", ErrFraming)
		}
		digits := []byte{c}
		for {
			c, err = f.r.ReadByte()
			if err != nil {
				return nil, eofInMessage(err)
			}
			if c == '\n' {
				break
			}
			if c < '0' || c > '9' || len(digits) >= 10 {
				return nil, fmt.Errorf("%w: bad chunk size", ErrFraming)
			}
			digits = append(digits, c)
		}
		n, err := strconv.ParseUint(string(digits), 10, 64)
		if err != nil || n > maxChunkSize {
			return nil, fmt.Errorf("%w: chunk size out of range", ErrFraming)
		}
		if len(msg)+int(n) > f.max {
			return nil, ErrTooBig
		}
		for left := int(n); left > 0; {
			step := min(left, readStep)
			if msg, err = f.grow(msg, step); err != nil {
				return nil, err
			}
			start := len(msg)
			msg = msg[:start+step]
			if _, err := io.ReadFull(f.r, msg[start:]); err != nil {
				return nil, eofInMessage(err)
			}
			left -= step
		}
	}
}

func (f *framer) expect(want byte) error {
	c, err := f.r.ReadByte()
	if err != nil {
		return eofInMessage(err)
	}
	if c != want {
		return fmt.Errorf("%w: expected %q, got %q", ErrFraming, want, c)
	}
	return nil
}

// eofInMessage turns an end of stream inside a message into
// io.ErrUnexpectedEOF: the client stopped mid-chunk.
func eofInMessage(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeMessage frames and writes one message.
func (f *framer) writeMessage(msg []byte) error {
	var err error
	if f.chunked {
		buf := make([]byte, 0, len(msg)+32)
		buf = append(buf, '\n', '#')
		buf = strconv.AppendInt(buf, int64(len(msg)), 10)
		buf = append(buf, '\n')
		buf = append(buf, msg...)
		buf = append(buf, "\n##\n"...)
		_, err = f.w.Write(buf)
	} else {
		buf := make([]byte, 0, len(msg)+len(eom))
		buf = append(append(buf, msg...), eom...)
		_, err = f.w.Write(buf)
	}
	return err
}
