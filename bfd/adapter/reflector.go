package adapter

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
)

// applyReflector brings the S-BFD reflector to w (nil: off). Its
// discriminators are reserved in the engine first, so ordinary sessions
// never get them; servers are (re)opened only when the local address
// changes. On error nothing has changed.
func (s *Subsystem) applyReflector(w *reflectorWanted) error {
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
		return nil
	}
	var added []uint32
	for _, d := range w.cfg.Discriminators {
		if slices.Contains(s.reflReserved, d) || slices.Contains(added, d) {
			continue
		}
		if !s.eng.ReserveDiscriminator(d) {
			for _, a := range added {
				s.eng.ReleaseDiscriminator(a)
			}
			return fmt.Errorf("bfd: reflector discriminator %d is in use by a session", d)
		}
		added = append(added, d)
	}
	if s.reflector == nil || s.reflLocal != w.local {
		servers, err := s.openReflectorServers(w.local)
		if err != nil {
			for _, a := range added {
				s.eng.ReleaseDiscriminator(a)
			}
			return err
		}
		for _, srv := range s.reflServers {
			_ = srv.srv.Close()
			<-srv.done
		}
		if s.reflector == nil {
			s.reflector = bfd.NewReflector(w.cfg)
		}
		s.reflServers, s.reflLocal = servers, w.local
		for _, srv := range servers {
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
	return nil
}

// openReflectorServers opens the reflector's socket(s): on the local
// address only, or one per family. The reflector core is shared; servers
// opened before an error are closed again.
func (s *Subsystem) openReflectorServers(local netip.Addr) ([]*openServer, error) {
	core := s.reflector
	if core == nil {
		core = bfd.NewReflector(bfd.ReflectorConfig{})
		s.reflector = core
	}
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
