package softwire

import (
	"strings"
	"testing"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

// Enabling the DS-Lite AFTR or B4, which this build lacks, is refused with
// the path of the leaf rather than accepted and ignored.
func TestUnbuiltDataPlanesRefused(t *testing.T) {
	s := NewLwaftrSubsystem(LwaftrOptions{})
	for _, c := range []struct {
		set  func(*gen.Device)
		want string
	}{
		{func(d *gen.Device) { d.GetOrCreateSoftwire().GetOrCreateAftr().Enabled = ygot.Bool(true) }, "/softwire/aftr/enabled"},
		{func(d *gen.Device) { d.GetOrCreateSoftwire().GetOrCreateB4().Enabled = ygot.Bool(true) }, "/softwire/b4/enabled"},
	} {
		cfg := &gen.Device{}
		c.set(cfg)
		if err := check(s, cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate = %v, want an error naming %s", err, c.want)
		}
	}
	if err := check(s, &gen.Device{}); err != nil {
		t.Errorf("empty configuration refused: %v", err)
	}
}
