package adapter

import (
	"net/netip"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"sync/atomic"
	"time"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/gen"
)

// BFD inside DS-Lite softwires runs in the softwire subsystem, next to
// the tunnels that carry it; this subsystem owns /bfd and renders those
// sessions under /bfd/softwire from what the softwire subsystem reports.

// SoftwireSession is one BFD session inside a softwire: one of
// /bfd/softwire/session (the source reports only configured entries), or
// a dynamic session of the AFTR.
type SoftwireSession struct {
	Role                    string // "b4" or "aftr"
	B4, AFTR                netip.Addr
	InnerLocal, InnerRemote netip.Addr
	Dynamic                 bool // an AFTR's automatic passive session
	Created                 time.Time
	Info                    bfd.SessionInfo
}

type softwireSource struct{ fn func() []SoftwireSession }

var softwireSessions atomic.Pointer[softwireSource]

// SetSoftwireSessions registers the source of the softwire sessions (the
// DS-Lite subsystem); nil unregisters it.
func SetSoftwireSessions(fn func() []SoftwireSession) {
	if fn == nil {
		softwireSessions.Store(nil)
		return
	}
	softwireSessions.Store(&softwireSource{fn})
}

// ProfileSessionConfig returns the session settings of BFD profile name
// of root (the BFD defaults when name is empty), for engines that run
// BFD sessions of their own.
func ProfileSessionConfig(root *gen.Device, name string) (bfd.SessionConfig, error) {
	var p *gen.WirebeatBfd_Bfd_Profiles_Profile
	if name != "" {
		p = root.GetBfd().GetProfiles().GetProfile(name)
		if p == nil {
			return bfd.SessionConfig{}, invalid(profilePath(name), "BFD profile %q does not exist", name)
		}
	}
	return profileSettings(name, p)
}

// softwireState fills /bfd/softwire: the state of configured sessions
// that exist, and the AFTR's dynamic sessions.
func softwireState(root *gen.Device, paths []*gpb.Path) {
	src := softwireSessions.Load()
	if src == nil || !covers(paths, path(elem("bfd"), elem("softwire"))) {
		return
	}
	for _, s := range src.fn() {
		b4 := s.B4.String()
		if !s.Dynamic {
			if covers(paths, path(elem("bfd"), elem("softwire"), elem("session", "b4-address", b4))) {
				copyLeaves(root.GetOrCreateBfd().GetOrCreateSoftwire().GetOrCreateSession(b4).GetOrCreateState(), render(&s.Info))
			}
			continue
		}
		if !covers(paths, path(elem("bfd"), elem("softwire"), elem("dynamic-session", "b4-address", b4))) {
			continue
		}
		d := root.GetOrCreateBfd().GetOrCreateSoftwire().GetOrCreateDynamicSession(b4)
		aftr, il, ir := s.AFTR.String(), s.InnerLocal.String(), s.InnerRemote.String()
		created := s.Created.UTC().Format(time.RFC3339)
		d.AftrAddress, d.InnerLocalAddress, d.InnerRemoteAddress, d.CreateTime = &aftr, &il, &ir, &created
		copyLeaves(d.GetOrCreateState(), render(&s.Info))
	}
}

// validateSoftwire checks /bfd/softwire/session: a B4 session names its
// AFTR, addresses have the right family, the profile exists.
func validateSoftwire(root *gen.Device) error {
	sw := root.GetBfd().GetSoftwire()
	if sw == nil {
		return nil
	}
	for b4, s := range sw.Session {
		p := path(elem("bfd"), elem("softwire"), elem("session", "b4-address", b4))
		leaf := func(name string) *gpb.Path {
			return path(append(append([]*gpb.PathElem(nil), p.Elem...), elem(name))...)
		}
		if a, err := netip.ParseAddr(b4); err != nil || !a.Is6() {
			return invalid(leaf("b4-address"), "%q is not an IPv6 address", b4)
		}
		if s.Role == gen.WirebeatBfd_Bfd_Softwire_Session_Role_b4 && s.AftrAddress == nil {
			return invalid(leaf("aftr-address"), "a B4 session needs the AFTR's address")
		}
		if s.AftrAddress != nil {
			if a, err := netip.ParseAddr(*s.AftrAddress); err != nil || !a.Is6() {
				return invalid(leaf("aftr-address"), "%q is not an IPv6 address", *s.AftrAddress)
			}
		}
		for name, v := range map[string]*string{"inner-local-address": s.InnerLocalAddress, "inner-remote-address": s.InnerRemoteAddress} {
			if v != nil {
				if a, err := netip.ParseAddr(*v); err != nil || !a.Is4() {
					return invalid(leaf(name), "%q is not an IPv4 address", *v)
				}
			}
		}
		if s.Profile != nil {
			if _, err := ProfileSessionConfig(root, *s.Profile); err != nil {
				return err
			}
		}
	}
	return nil
}
