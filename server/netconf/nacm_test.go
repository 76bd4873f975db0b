package netconf

import (
	"net"
	"os/exec"
	"strings"
	"testing"
)

// NACM from a real client: a viewer in a custom group may write /bfd and
// nothing else, does not see one profile, may not copy-config or kill a
// session; the denials are counted in /nacm (testdata/ncclient_nacm.py).
func TestNACMWithNcclient(t *testing.T) {
	requireNcclient(t)
	e := startElement(t)
	host, port, _ := net.SplitHostPort(e.addr)
	out, err := exec.Command(debianPython, "testdata/ncclient_nacm.py", host, port, "admin", adminPW, "view", viewerPW).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("ncclient nacm: %v\n%s", err, out)
	}
	if d := e.core.Denials(); d.Operations < 2 || d.DataWrites < 2 {
		t.Errorf("denials %+v", d)
	}
}
