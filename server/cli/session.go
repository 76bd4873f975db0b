package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	sch "github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// keyInterrupt stands for Ctrl-C inside the line editor: x/term ends the
// session on Ctrl-C, a shell only drops the line.
const keyInterrupt = 0x07

// session is one CLI session on an SSH channel: a shell or one command.
type session struct {
	srv  *Server
	core *server.Session
	ch   ssh.Channel
	req  channelReq

	term  *term.Terminal
	sizes chan [2]int
	width int
	rows  int

	keys   chan []byte   // input, for the line editor and the pager
	intr   chan struct{} // Ctrl-C while a command runs
	busy   atomic.Bool   // a command is running
	rest   []byte        // input taken from keys, not yet read
	closed chan struct{}
	once   sync.Once

	cfg *configMode // nil in operational mode
}

func newSession(s *Server, core *server.Session, ch ssh.Channel, cr channelReq, sizes chan [2]int) *session {
	sess := &session{srv: s, core: core, ch: ch, req: cr, sizes: sizes, width: cr.width, rows: cr.height,
		keys: make(chan []byte, 16), intr: make(chan struct{}, 1), closed: make(chan struct{})}
	if sess.width <= 0 {
		sess.width = 80
	}
	return sess
}

// kill ends the session from outside (element stopping, channel gone).
func (sess *session) kill() {
	sess.once.Do(func() {
		close(sess.closed)
		sess.ch.Close()
	})
}

// run serves the session until it ends and reports the exit status.
func (sess *session) run() {
	s := sess.srv
	defer s.endSession(sess)
	defer sess.kill()
	s.log.Info("session start", "session", sess.core.ID, "user", sess.core.User, "role", sess.core.Role.String(), "remote", sess.core.Source, "exec", sess.req.isExec)
	go sess.pump()
	status := 0
	switch {
	case sess.req.isExec:
		if !sess.execute(sess.req.exec) {
			status = 1
		}
	case sess.req.pty:
		sess.interactive()
	default:
		status = sess.script()
	}
	if sess.cfg != nil {
		sess.cfg.close()
	}
	sess.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
	s.log.Info("session end", "session", sess.core.ID, "user", sess.core.User)
}

// pump reads the channel: Ctrl-C while a command runs interrupts it, all
// else is input for the line editor (or the pager).
func (sess *session) pump() {
	defer close(sess.keys)
	buf := make([]byte, 256)
	for {
		n, err := sess.ch.Read(buf)
		if n > 0 {
			b := append([]byte(nil), buf[:n]...)
			if sess.busy.Load() {
				kept := b[:0]
				for _, c := range b {
					if c == 3 {
						select {
						case sess.intr <- struct{}{}:
						default:
						}
						continue
					}
					kept = append(kept, c)
				}
				b = kept
			}
			if len(b) > 0 {
				select {
				case sess.keys <- b:
				case <-sess.closed:
					return
				}
			}
		}
		if err != nil {
			// The end of the client's input is not an interrupt: an
			// exec request's command still runs to its end.
			return
		}
	}
}

// Read feeds the line editor, with Ctrl-C turned into keyInterrupt.
func (sess *session) Read(p []byte) (int, error) {
	if len(sess.rest) == 0 {
		b, ok := <-sess.keys
		if !ok {
			return 0, io.EOF
		}
		sess.rest = b
	}
	n := copy(p, sess.rest)
	for i := 0; i < n; i++ {
		if p[i] == 3 {
			p[i] = keyInterrupt
		}
	}
	sess.rest = sess.rest[n:]
	return n, nil
}

func (sess *session) Write(p []byte) (int, error) { return sess.ch.Write(p) }

// readKey waits for one key while a command runs (the pager); false on
// Ctrl-C or the end of the session.
func (sess *session) readKey() (byte, bool) {
	if len(sess.rest) > 0 {
		c := sess.rest[0]
		sess.rest = sess.rest[1:]
		return c, true
	}
	select {
	case b, ok := <-sess.keys:
		if !ok || len(b) == 0 {
			return 0, false
		}
		sess.rest = b[1:]
		return b[0], true
	case <-sess.intr:
		return 0, false
	}
}

// interrupted reports (and clears) a Ctrl-C typed while a command runs.
func (sess *session) interrupted() bool {
	select {
	case <-sess.intr:
		return true
	default:
		return false
	}
}

// hostname is the element's name in the prompt.
func (sess *session) hostname() string {
	if h := sess.srv.core.Running().GetSystem().GetHostname(); h != "" {
		return h
	}
	return "wirebeat"
}

func (sess *session) prompt() string {
	if sess.cfg != nil {
		return sess.core.User + "@" + sess.hostname() + "# "
	}
	return sess.core.User + "@" + sess.hostname() + "> "
}

// interactive is the shell on a terminal: line editing, history,
// completion, help, the pager.
func (sess *session) interactive() {
	t := term.NewTerminal(sess, sess.prompt())
	sess.term = t
	if sess.req.width > 0 && sess.req.height > 0 {
		t.SetSize(sess.req.width, sess.req.height)
	}
	go func() {
		for {
			select {
			case sz := <-sess.sizes:
				t.SetSize(sz[0], sz[1])
				sess.width, sess.rows = sz[0], sz[1]
			case <-sess.closed:
				return
			}
		}
	}()
	t.AutoCompleteCallback = sess.keyHook
	fmt.Fprintf(sess.ch, "wirebeat CLI on %s. Type ? for help, TAB to complete.\r\n", sess.hostname())
	for {
		if sess.cfg != nil {
			fmt.Fprintf(sess.ch, "\r\n%s\r\n", sess.cfg.banner())
		}
		t.SetPrompt(sess.prompt())
		line, err := t.ReadLine()
		if err != nil {
			if errors.Is(err, term.ErrPasteIndicator) {
				err = nil
			} else {
				fmt.Fprint(sess.ch, "\r\n")
				return
			}
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if quit := sess.dispatch(line); quit {
			return
		}
	}
}

// script is a shell without a terminal: lines from stdin, each echoed
// after its prompt, no pager. The status is 1 if any command failed.
func (sess *session) script() int {
	status := 0
	r := bufio.NewReader(sess)
	for {
		line, err := r.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) != "" {
			fmt.Fprintf(sess.ch, "%s%s\n", sess.prompt(), line)
			ok, quit := sess.runLine(line)
			if !ok {
				status = 1
			}
			if quit {
				return status
			}
		}
		if err != nil {
			return status
		}
	}
}

// execute runs the one command of an exec request.
func (sess *session) execute(line string) bool {
	ok, _ := sess.runLine(line)
	return ok
}

// dispatch runs a line typed at the terminal and reports whether the
// session ends.
func (sess *session) dispatch(line string) bool {
	_, quit := sess.runLine(line)
	return quit
}

// eol is the line ending of the connection.
func (sess *session) eol() string {
	if sess.req.pty {
		return "\r\n"
	}
	return "\n"
}

// runLine parses and runs one command line; it prints errors itself and
// reports success and whether the session ends.
func (sess *session) runLine(line string) (ok, quit bool) {
	sess.busy.Store(true)
	defer sess.busy.Store(false)
	sess.interrupted() // a stale Ctrl-C does not stop the next command
	bw := bufio.NewWriterSize(sess.ch, 32<<10)
	out := &outSink{sess: sess, bw: bw, ws: &writerSink{w: bw, eol: sess.eol()}}
	quit, err := sess.command(line, out)
	if err != nil && !errors.Is(err, errStop) {
		sess.printError(out, line, err)
	}
	bw.Flush()
	return err == nil || errors.Is(err, errStop), quit
}

// printError writes an error, with a caret under the word at fault.
func (sess *session) printError(out *outSink, line string, err error) {
	out.pager = false
	var ce *cmdError
	if errors.As(err, &ce) && ce.pos >= 0 {
		lead := 0
		if sess.term != nil {
			lead = len(sess.prompt())
		} else {
			out.ws.line("  " + line)
			lead = 2
		}
		out.ws.line(strings.Repeat(" ", lead+ce.pos) + "^")
		out.ws.line("error: " + ce.msg)
		return
	}
	var e *sch.Error
	if errors.As(err, &e) {
		out.ws.line("error: " + coreMessage(e))
		return
	}
	out.ws.line("error: " + err.Error())
}

// coreMessage renders an error of the core with its path in CLI words.
func coreMessage(e *sch.Error) string {
	msg := e.Message
	if e.Path != nil && len(e.Path.Elem) > 0 {
		msg = "[" + strings.Join(cliWords(rootSchema(), e.Path.Elem), " ") + "] " + msg
	}
	return msg
}

// outSink is the end of a command's output: the pager on a terminal, then
// the connection.
type outSink struct {
	sess  *session
	bw    *bufio.Writer
	ws    *writerSink
	pager bool
	lines int
}

func (o *outSink) line(s string) error {
	if o.sess.interrupted() {
		return errStop
	}
	if o.pager && o.sess.rows > 2 {
		if o.lines >= o.sess.rows-1 {
			o.bw.Flush()
			o.sess.ch.Write([]byte("---(more)---"))
			c, ok := o.sess.readKey()
			o.sess.ch.Write([]byte("\r\x1b[K"))
			switch {
			case !ok || c == 'q' || c == 'Q' || c == 3:
				return errStop
			case c == '\r' || c == '\n':
				o.lines = o.sess.rows - 2
			default:
				o.lines = 0
			}
		}
		o.lines++
	}
	return o.ws.line(s)
}
