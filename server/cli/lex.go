package cli

import (
	"strings"
)

// token is one word of a command line and where it starts, so that an
// error can put a caret under it.
type token struct {
	text   string
	pos    int  // byte offset in the line
	quoted bool // written in double quotes
}

// lexError is a line that cannot be split into words.
type lexError struct {
	pos int
	msg string
}

func (e *lexError) Error() string { return e.msg }

// tokenize splits a line into words: blanks separate, double quotes keep a
// word with blanks or a "|" in it, a backslash escapes the next character
// inside quotes. A "|" outside quotes is a word of its own. With partial
// set, an unterminated quote is not an error (completion of a line being
// typed).
func tokenize(line string, partial bool) ([]token, error) {
	var out []token
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '|':
			out = append(out, token{text: "|", pos: i})
			i++
		case c == '"':
			start := i
			var b strings.Builder
			i++
			closed := false
			for i < len(line) {
				if line[i] == '\\' && i+1 < len(line) {
					b.WriteByte(line[i+1])
					i += 2
					continue
				}
				if line[i] == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(line[i])
				i++
			}
			if !closed && !partial {
				return nil, &lexError{pos: start, msg: "unterminated quoted string"}
			}
			out = append(out, token{text: b.String(), pos: start, quoted: true})
		default:
			start := i
			for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '|' && line[i] != '"' {
				i++
			}
			out = append(out, token{text: line[start:i], pos: start})
		}
	}
	return out, nil
}

// splitPipes cuts the words of a line at "|": the command, then each pipe
// stage.
func splitPipes(toks []token) (cmd []token, stages [][]token) {
	cur := &cmd
	for _, t := range toks {
		if t.text == "|" && !t.quoted {
			stages = append(stages, nil)
			cur = &stages[len(stages)-1]
			continue
		}
		*cur = append(*cur, t)
	}
	return cmd, stages
}

// quoteWord writes a value so that tokenize reads it back as one word.
func quoteWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"|\\{};[]#") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
