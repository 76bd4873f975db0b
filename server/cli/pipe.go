package cli

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// errStop ends the output of a command early: the pager's q, a Ctrl-C, a
// closed connection. Renderers return it as they get it.
var errStop = errors.New("output stopped")

// lineSink takes the output of a command one line at a time (no newline).
// Commands write through it so that pipes and the pager see lines as they
// are made and a million-entry table is never held as one text.
type lineSink interface {
	line(s string) error
}

// format is how a command renders data (| display ...).
type format uint8

const (
	formatText format = iota // brace format, tables
	formatJSON
	formatXML
	formatSet
)

// pipeline is the parsed "| ..." part of a command.
type pipeline struct {
	format  format
	compare bool // | compare (configuration mode show)
	noMore  bool
	count   bool
	filters []lineFilter
}

type lineFilter struct {
	re     *regexp.Regexp
	invert bool // except
}

var pipeWords = []string{"compare", "count", "display", "except", "match", "no-more"}
var displayWords = []string{"json", "set", "xml"}

// parsePipes reads the stages after the command.
func parsePipes(stages [][]token, configMode bool) (*pipeline, *cmdError) {
	p := &pipeline{}
	for _, st := range stages {
		if len(st) == 0 {
			return nil, &cmdError{pos: -1, msg: "missing command after |"}
		}
		words := pipeWords
		if !configMode {
			words = []string{"count", "display", "except", "match", "no-more"}
		}
		w, cands := matchWord(st[0].text, words)
		if w == "" {
			if len(cands) > 1 {
				return nil, errAt(st[0], "%q is ambiguous: %s", st[0].text, strings.Join(cands, ", "))
			}
			msg := fmt.Sprintf("unknown pipe command %q", st[0].text)
			if c := closest(st[0].text, words); c != "" {
				msg += fmt.Sprintf("; did you mean %q?", c)
			}
			return nil, errAt(st[0], "%s", msg)
		}
		args := st[1:]
		switch w {
		case "match", "except":
			if len(args) != 1 {
				return nil, errAt(st[0], "%s takes one regular expression (quote it if it has blanks)", w)
			}
			re, err := regexp.Compile(args[0].text)
			if err != nil {
				return nil, errAt(args[0], "bad regular expression: %v", err)
			}
			p.filters = append(p.filters, lineFilter{re: re, invert: w == "except"})
			continue
		case "display":
			if len(args) != 1 {
				return nil, errAt(st[0], "display takes one of %s", strings.Join(displayWords, ", "))
			}
			d, _ := matchWord(args[0].text, displayWords)
			switch d {
			case "json":
				p.format = formatJSON
			case "xml":
				p.format = formatXML
			case "set":
				p.format = formatSet
			default:
				msg := fmt.Sprintf("unknown display format %q (json, xml or set)", args[0].text)
				if c := closest(args[0].text, displayWords); c != "" {
					msg += fmt.Sprintf("; did you mean %q?", c)
				}
				return nil, errAt(args[0], "%s", msg)
			}
			continue
		case "count":
			p.count = true
		case "no-more":
			p.noMore = true
		case "compare":
			p.compare = true
		}
		if len(args) > 0 {
			return nil, errAt(args[0], "unexpected word %q after %s", args[0].text, w)
		}
	}
	return p, nil
}

// filterSink applies match/except and count, then hands lines on.
type filterSink struct {
	next    lineSink
	filters []lineFilter
	count   bool
	n       int
}

func (f *filterSink) line(s string) error {
	for _, fl := range f.filters {
		if fl.re.MatchString(s) == fl.invert {
			return nil
		}
	}
	if f.count {
		f.n++
		return nil
	}
	return f.next.line(s)
}

func (f *filterSink) finish() error {
	if f.count {
		return f.next.line(fmt.Sprintf("Count: %d lines", f.n))
	}
	return nil
}

// textSink splits text written with Write into lines for a lineSink:
// formats produced as a whole (JSON) go through the same pipes.
type textSink struct {
	next    lineSink
	partial []byte
	err     error
}

func (t *textSink) Write(b []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n := len(b)
	for len(b) > 0 {
		i := indexByte(b, '\n')
		if i < 0 {
			t.partial = append(t.partial, b...)
			break
		}
		var s string
		if len(t.partial) > 0 {
			s = string(append(t.partial, b[:i]...))
			t.partial = t.partial[:0]
		} else {
			s = string(b[:i])
		}
		if err := t.next.line(s); err != nil {
			t.err = err
			return 0, err
		}
		b = b[i+1:]
	}
	return n, nil
}

func (t *textSink) flush() error {
	if t.err != nil {
		return t.err
	}
	if len(t.partial) > 0 {
		s := string(t.partial)
		t.partial = nil
		return t.next.line(s)
	}
	return nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// writerSink writes lines to an io.Writer with the line ending of the
// connection ("\r\n" on a terminal).
type writerSink struct {
	w   io.Writer
	eol string
	buf []byte
}

func (ws *writerSink) line(s string) error {
	ws.buf = append(ws.buf[:0], s...)
	ws.buf = append(ws.buf, ws.eol...)
	if _, err := ws.w.Write(ws.buf); err != nil {
		return errStop
	}
	return nil
}
