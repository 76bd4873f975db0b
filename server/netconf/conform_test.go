package netconf

import (
	"strings"
	"testing"
)

// The AFTR's and the B4's BFD profile are leafrefs to /bfd/profiles: a
// misspelt profile fails the commit, an existing one commits.
func TestSoftwireBFDProfileIsLeafref(t *testing.T) {
	e := startElement(t)
	c := dial(t, e, "admin", adminPW, true)
	for _, side := range []string{"aftr", "b4"} {
		edit := func(profile string) string {
			return c.rpc(`<edit-config><target><running/></target><config><softwire xmlns="urn:wirebeat:softwire"><` + side +
				`><bfd><profile>` + profile + `</profile></bfd></` + side + `></softwire></config></edit-config>`)
		}
		r := edit("nope")
		wantError(t, r, "data-missing")
		if !strings.Contains(r, "profile") {
			t.Errorf("%s: error does not name the profile leaf: %s", side, r)
		}
		wantOK(t, c.rpc(profileEdit("fast-"+side, 3, "")))
		wantOK(t, edit("fast-"+side))
	}
	if got := e.core.Running().GetSoftwire().GetB4().GetBfd().GetProfile(); got != "fast-b4" {
		t.Errorf("b4 profile = %q", got)
	}
}
