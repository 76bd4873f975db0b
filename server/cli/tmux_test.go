package cli

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tty is an interactive OpenSSH session (ssh -tt) in a tmux pane.
type tty struct {
	t      *testing.T
	socket string
}

func startTTY(t *testing.T, e *element, user string) *tty {
	t.Helper()
	needTool(t, "tmux")
	tt := &tty{t: t, socket: fmt.Sprintf("wbcli-%d", time.Now().UnixNano())}
	args := append([]string{"sshpass"}, e.sshArgs(user, e.addr, "-tt")...)
	// remain-on-exit keeps the pane (and what ssh said) when ssh ends,
	// so a wait can tell a session that ended from one that is slow.
	cmd := exec.Command("tmux", append([]string{"-L", tt.socket, "-f", "/dev/null", "start-server", ";",
		"set-option", "-g", "remain-on-exit", "on", ";",
		"new-session", "-d", "-x", "160", "-y", "50"}, strings.Join(quoteAll(args), " "))...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-L", tt.socket, "kill-server").Run() })
	tt.wait(user + "@wb1>")
	return tt
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return out
}

func (tt *tty) keys(keys ...string) {
	tt.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"-L", tt.socket, "send-keys"}, keys...)...).CombinedOutput(); err != nil {
		tt.t.Fatalf("send-keys: %v %s", err, out)
	}
}

func (tt *tty) screen() string {
	out, _ := exec.Command("tmux", "-L", tt.socket, "capture-pane", "-p", "-S", "-200").Output()
	return string(out)
}

// ended reports whether the pane's ssh has exited.
func (tt *tty) ended() bool {
	out, err := exec.Command("tmux", "-L", tt.socket, "display-message", "-p", "#{pane_dead}").Output()
	return err != nil || strings.TrimSpace(string(out)) == "1"
}

// visible is the pane without its history.
func (tt *tty) visible() string {
	out, _ := exec.Command("tmux", "-L", tt.socket, "capture-pane", "-p").Output()
	return string(out)
}

// screenWait bounds every wait for the terminal. It is generous because
// a loaded machine (make test runs packages side by side) can hold ssh,
// tmux or the element off the CPU for seconds; a wait that succeeds
// returns as soon as the text is there.
const screenWait = 60 * time.Second

// wait waits for s on the screen and returns the screen.
func (tt *tty) wait(s string) string {
	tt.t.Helper()
	deadline := time.Now().Add(screenWait)
	for {
		sc := tt.screen()
		if strings.Contains(sc, s) {
			return sc
		}
		if tt.ended() {
			tt.t.Fatalf("screen lacks %q and ssh has ended:\n%s", s, tt.screen())
		}
		if time.Now().After(deadline) {
			tt.t.Fatalf("screen lacks %q:\n%s", s, sc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLine waits for a line of the screen holding every word.
func (tt *tty) waitLine(what string, words ...string) {
	tt.t.Helper()
	deadline := time.Now().Add(screenWait)
	for {
		sc := tt.screen()
		for _, l := range strings.Split(sc, "\n") {
			all := true
			for _, w := range words {
				all = all && strings.Contains(l, w)
			}
			if all {
				return
			}
		}
		if tt.ended() {
			tt.t.Fatalf("%s: no line with %q and ssh has ended:\n%s", what, words, tt.screen())
		}
		if time.Now().After(deadline) {
			tt.t.Fatalf("%s: no line with %q:\n%s", what, words, sc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clear empties the pane so the next wait sees only new text: Ctrl-L
// makes the line editor clear the screen and redraw the prompt, which it
// does only once every command typed before has run and printed; when
// the pane shows the prompt alone, its history (which may hold what the
// clearing scrolled away) is dropped too.
func (tt *tty) clear(prompt string) {
	tt.t.Helper()
	tt.keys("C-l")
	deadline := time.Now().Add(screenWait)
	for strings.TrimSpace(tt.visible()) != strings.TrimSpace(prompt) {
		if time.Now().After(deadline) {
			tt.t.Fatalf("Ctrl-L did not leave the prompt %q alone on the screen:\n%s", prompt, tt.visible())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := exec.Command("tmux", "-L", tt.socket, "clear-history").CombinedOutput(); err != nil {
		tt.t.Fatalf("clear-history: %v %s", err, out)
	}
}

func TestInteractiveCompletionHelpAndCtrlC(t *testing.T) {
	e := startElement(t)
	tt := startTTY(t, e, "admin")
	tt.keys("configure", "Enter")
	tt.wait("admin@wb1#")
	// TAB completes a unique prefix of a schema node.
	tt.keys("set sys", "Tab")
	tt.wait("admin@wb1# set system")
	tt.keys("C-c")
	tt.wait("set system ^C")
	// TAB lists the existing keys of a list.
	tt.keys("set bfd profiles profile p1 detection-multiplier 4", "Enter")
	tt.keys("set bfd profiles profile p2 detection-multiplier 5", "Enter")
	tt.clear("admin@wb1#")
	tt.keys("set bfd profiles profile ", "Tab")
	// The list of keys is one line of columns; the screen also holds
	// the lines typed before, so wait for that line itself.
	tt.waitLine("existing profiles listed", "default", "p1", "p2")
	tt.keys("C-u")
	// ? shows the type and range of detection-multiplier.
	tt.clear("admin@wb1#")
	tt.keys("set bfd profiles profile p1 detection-multiplier ?")
	tt.wait("Possible completions:")
	tt.wait("range 1..255")
	tt.keys("C-u")
	// show | compare on the terminal, then commit.
	tt.clear("admin@wb1#")
	tt.keys("show | compare", "Enter")
	tt.wait("+    profile p2 {")
	tt.keys("commit", "Enter")
	tt.wait("commit complete")
	tt.wait("[edit]")
	// Ctrl-D leaves.
	tt.keys("exit", "Enter")
	tt.wait("admin@wb1>")
	tt.keys("C-d")
	deadline := time.Now().Add(screenWait)
	for len(e.core.Sessions()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(e.core.Sessions()); n != 0 {
		t.Fatalf("%d sessions left after Ctrl-D", n)
	}
	if e.core.Running().GetBfd().GetProfiles().GetProfile("p2") == nil {
		t.Fatal("commit from the terminal did not land")
	}
}
