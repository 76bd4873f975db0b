package adapter

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/schema"
)

// reflectorPlan is what Prepare reserved for the S-BFD reflector.
type reflectorPlan struct {
	want *reflectorWanted // nil: off
	// added are discriminators newly reserved in the engine, so that
	// sessions never get them.
	added []uint32
	// servers are new sockets for a new local address (nil: keep the
	// running ones), with the reflector core they serve.
	servers []*openServer
	core    *bfd.Reflector
}

// prepareReflector reserves the discriminators of w (nil: reflector off)
// and opens its sockets when the local address changes, without serving
// them yet. On error nothing is reserved.
func (s *Subsystem) prepareReflector(w *reflectorWanted) (reflectorPlan, error) {
	plan := reflectorPlan{want: w}
	if w == nil {
		return plan, nil
	}
	for _, d := range w.cfg.Discriminators {
		if slices.Contains(s.reflReserved, d) || slices.Contains(plan.added, d) {
			continue
		}
		if !s.eng.ReserveDiscriminator(d) {
			s.releaseReflector(plan)
			return reflectorPlan{}, schema.Errorf(schema.TagInUse, path(elem("bfd"), elem("sbfd"), elem("reflector"), elem("discriminator")),
				"reflector discriminator %d is in use by a session", d)
		}
		plan.added = append(plan.added, d)
	}
	if s.reflector == nil || s.reflLocal != w.local {
		plan.core = s.reflector
		if plan.core == nil {
			plan.core = bfd.NewReflector(w.cfg)
		}
		servers, err := s.openReflectorServers(w.local, plan.core)
		if err != nil {
			s.releaseReflector(plan)
			return reflectorPlan{}, schema.Errorf(schema.TagResourceDenied, path(elem("bfd"), elem("sbfd"), elem("reflector")), "%v", err)
		}
		plan.servers = servers
	}
	return plan, nil
}

// releaseReflector undoes prepareReflector.
func (s *Subsystem) releaseReflector(plan reflectorPlan) {
	for _, d := range plan.added {
		s.eng.ReleaseDiscriminator(d)
	}
	for _, srv := range plan.servers {
		_ = srv.srv.Close() // never run: nothing to wait for
	}
}

// applyReflector brings the S-BFD reflector to the prepared plan.
func (s *Subsystem) applyReflector(plan reflectorPlan) {
	w := plan.want
	if w == nil {
		for _, srv := range s.reflServers {
			_ = srv.srv.Close()
			<-srv.done
		}
		s.reflServers = nil
		for _, d := range s.reflReserved {
			s.eng.ReleaseDiscriminator(d)
		}
		s.reflReserved, s.reflector = nil, nil
		return
	}
	if plan.servers != nil {
		for _, srv := range s.reflServers {
			_ = srv.srv.Close()
			<-srv.done
		}
		s.reflector = plan.core
		s.reflServers, s.reflLocal = plan.servers, w.local
		for _, srv := range plan.servers {
			go func() { _ = srv.srv.Run(); close(srv.done) }()
		}
	}
	s.reflector.Configure(w.cfg)
	for _, d := range s.reflReserved {
		if !slices.Contains(w.cfg.Discriminators, d) {
			s.eng.ReleaseDiscriminator(d)
		}
	}
	s.reflReserved = append([]uint32(nil), w.cfg.Discriminators...)
}

// openReflectorServers opens the reflector's socket(s): on the local
// address only, or one per family. The reflector core is shared; servers
// opened before an error are closed again.
func (s *Subsystem) openReflectorServers(local netip.Addr, core *bfd.Reflector) ([]*openServer, error) {
	var cfgs []transport.ReflectorConfig
	if local.IsValid() {
		cfgs = []transport.ReflectorConfig{{IPv6: local.Is6(), Local: local, Log: s.log}}
	} else {
		cfgs = []transport.ReflectorConfig{{Log: s.log}, {IPv6: true, Log: s.log}}
	}
	var out []*openServer
	for _, c := range cfgs {
		srv, err := s.openReflector(c, core)
		if err != nil {
			for _, o := range out {
				_ = o.srv.Close()
			}
			return nil, fmt.Errorf("bfd: open S-BFD reflector (ipv6=%v local=%v): %w", c.IPv6, c.Local, err)
		}
		out = append(out, &openServer{srv: srv, done: make(chan struct{})})
	}
	return out, nil
}
