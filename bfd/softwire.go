package bfd

import "errors"

// BFD inside DS-Lite softwires (seed 000). The softwire engine owns the
// tunnel: it hands the engine the UDP payload of each BFD packet it
// decapsulates, as an Inbound whose Path is
//
//	PathKey{Kind: PathSoftwire, Local: <AFTR outer IPv6>, Remote: <B4 outer IPv6>}
//
// (from the B4's point of view Local is the B4 and Remote the AFTR), with
// TTL the inner IPv4 TTL, and it implements Sender to encapsulate the
// engine's packets towards key.Remote. A session is thus identified by the
// B4's outer IPv6 address, whatever inner addresses the B4 uses.
//
// An AFTR watches B4s it was never configured for: with EnableDynamic, a
// packet from an unknown softwire creates a passive session there.

// DynamicCreated reports a session the engine created by itself.
type DynamicCreated struct {
	Discr uint32
	Path  PathKey
}

type dynamicTemplate struct {
	cfg      SessionConfig
	sender   Sender
	max      int
	count    int
	onCreate func(DynamicCreated)
}

// ErrDynamicKind is returned for a kind that cannot have dynamic sessions.
var ErrDynamicKind = errors.New("bfd: dynamic sessions exist only for softwire paths")

// EnableDynamic makes packets with Your Discriminator zero from an unknown
// softwire create a passive session configured as template (its Path is
// replaced by the packet's), sending through snd, up to max sessions so
// that forged packets cannot exhaust memory. onCreate, if set, is called
// under the engine's lock and must not call back into the engine.
func (e *Engine) EnableDynamic(kind PathKind, template SessionConfig, snd Sender, max int, onCreate func(DynamicCreated)) error {
	if kind != PathSoftwire {
		return ErrDynamicKind
	}
	template.Path = PathKey{Kind: kind, Remote: ipv6Unspecified}
	template.Passive = true
	if err := template.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	count := 0
	if e.dynamic != nil {
		count = e.dynamic.count
	}
	e.dynamic = &dynamicTemplate{cfg: template, sender: snd, max: max, count: count, onCreate: onCreate}
	return nil
}

// createDynamic makes a session for an unknown softwire path; nil when
// not enabled or over the limit.
func (e *Engine) createDynamic(now int64, path PathKey) *Session {
	d := e.dynamic
	if d == nil || path.Kind != PathSoftwire || d.count >= d.max {
		return nil
	}
	cfg := d.cfg
	cfg.Path = path
	s := e.newSession(cfg, d.sender)
	s.dynamic = true
	d.count++
	s.reschedule(now)
	if d.onCreate != nil {
		d.onCreate(DynamicCreated{Discr: s.localDiscr, Path: path})
	}
	return s
}
