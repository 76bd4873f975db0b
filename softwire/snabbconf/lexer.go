// Package snabbconf reads the Snabb lwAFTR configuration language (the
// "softwire-config { … }" files of snabb lwaftr, a YANG data syntax:
// statements "keyword argument;" and blocks "keyword { … }", with // and
// /* */ comments and double-quoted strings) and maps it onto the wirebeat
// tree.
package snabbconf

import (
	"fmt"
	"strings"
)

// tokenKind classifies a lexical token.
type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokWord             // an unquoted keyword or argument
	tokString           // a quoted argument, escapes resolved
	tokLBrace
	tokRBrace
	tokSemi
)

func (k tokenKind) String() string {
	switch k {
	case tokEOF:
		return "end of file"
	case tokWord:
		return "word"
	case tokString:
		return "string"
	case tokLBrace:
		return `"{"`
	case tokRBrace:
		return `"}"`
	case tokSemi:
		return `";"`
	}
	return "token"
}

type token struct {
	kind tokenKind
	text string
	line int
	col  int
}

// lexer turns the source into tokens; it keeps line and column so every
// error points at the place in the file.
type lexer struct {
	src  string
	pos  int
	line int
	col  int
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1, col: 1} }

func (lx *lexer) errorf(line, col int, format string, a ...any) error {
	return fmt.Errorf("line %d column %d: %s", line, col, fmt.Sprintf(format, a...))
}

func (lx *lexer) advance(n int) {
	for i := 0; i < n && lx.pos < len(lx.src); i++ {
		if lx.src[lx.pos] == '\n' {
			lx.line++
			lx.col = 1
		} else {
			lx.col++
		}
		lx.pos++
	}
}

// skipSpace skips blanks and comments.
func (lx *lexer) skipSpace() error {
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			lx.advance(1)
		case strings.HasPrefix(lx.src[lx.pos:], "//"):
			for lx.pos < len(lx.src) && lx.src[lx.pos] != '\n' {
				lx.advance(1)
			}
		case strings.HasPrefix(lx.src[lx.pos:], "/*"):
			line, col := lx.line, lx.col
			end := strings.Index(lx.src[lx.pos+2:], "*/")
			if end < 0 {
				return lx.errorf(line, col, "comment not closed")
			}
			lx.advance(end + 4)
		default:
			return nil
		}
	}
	return nil
}

func (lx *lexer) next() (token, error) {
	if err := lx.skipSpace(); err != nil {
		return token{}, err
	}
	t := token{line: lx.line, col: lx.col}
	if lx.pos >= len(lx.src) {
		t.kind = tokEOF
		return t, nil
	}
	switch c := lx.src[lx.pos]; c {
	case '{':
		t.kind = tokLBrace
		lx.advance(1)
		return t, nil
	case '}':
		t.kind = tokRBrace
		lx.advance(1)
		return t, nil
	case ';':
		t.kind = tokSemi
		lx.advance(1)
		return t, nil
	case '"', '\'':
		return lx.quoted(t, c)
	}
	start := lx.pos
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '{' || c == '}' || c == ';' || c == '"' || c == '\'' {
			break
		}
		if strings.HasPrefix(lx.src[lx.pos:], "//") || strings.HasPrefix(lx.src[lx.pos:], "/*") {
			break
		}
		lx.advance(1)
	}
	t.kind = tokWord
	t.text = lx.src[start:lx.pos]
	return t, nil
}

// quoted reads a string in double quotes (with \n \t \" \\ escapes) or
// single quotes (no escapes), as YANG does.
func (lx *lexer) quoted(t token, q byte) (token, error) {
	lx.advance(1)
	var b strings.Builder
	for {
		if lx.pos >= len(lx.src) {
			return token{}, lx.errorf(t.line, t.col, "string not closed")
		}
		c := lx.src[lx.pos]
		if c == q {
			lx.advance(1)
			break
		}
		if c == '\\' && q == '"' {
			if lx.pos+1 >= len(lx.src) {
				return token{}, lx.errorf(lx.line, lx.col, "string not closed")
			}
			switch e := lx.src[lx.pos+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '"', '\\':
				b.WriteByte(e)
			default:
				return token{}, lx.errorf(lx.line, lx.col, "unknown escape \\%c", e)
			}
			lx.advance(2)
			continue
		}
		b.WriteByte(c)
		lx.advance(1)
	}
	t.kind = tokString
	t.text = b.String()
	return t, nil
}
