package bfd

import (
	"errors"
	"fmt"
	"net/netip"
)

// PathKind says how a session's packets travel, which decides the port, the
// TTL rules and how a packet without Your Discriminator finds its session.
type PathKind uint8

// Path kinds.
const (
	// PathSingleHop is RFC 5881: UDP 3784, TTL 255 sent and required.
	PathSingleHop PathKind = iota + 1
	// PathMultiHop is RFC 5883: UDP 4784, a configured minimum TTL.
	PathMultiHop
	// PathSoftwire is BFD inside a DS-Lite softwire, handed in and out by
	// the softwire engine; Remote is the B4's outer IPv6 address.
	PathSoftwire
	// PathSBFD is an S-BFD initiator (RFC 7880): UDP 7784 towards a
	// reflector; replies always carry our discriminator.
	PathSBFD
)

var pathKindNames = [...]string{"", "single-hop", "multi-hop", "softwire", "sbfd"}

func (k PathKind) String() string {
	if int(k) < len(pathKindNames) && k != 0 {
		return pathKindNames[k]
	}
	return fmt.Sprintf("path-kind(%d)", uint8(k))
}

// PathKey identifies where a session's packets come from and go to. A
// received packet with Your Discriminator zero is matched to a session by
// this key (RFC 5880 section 6.8.6), so transports fill it the same way.
type PathKey struct {
	Kind PathKind
	// Interface is the single-hop session's interface; empty otherwise.
	Interface string
	// Local and Remote are the addresses of this end and of the peer (for
	// softwire sessions: the AFTR's and the B4's outer IPv6 addresses).
	Local, Remote netip.Addr
}

func (k PathKey) String() string {
	if k.Interface != "" {
		return fmt.Sprintf("%s %s%%%s", k.Kind, k.Remote, k.Interface)
	}
	return fmt.Sprintf("%s %s->%s", k.Kind, k.Local, k.Remote)
}

var ipv6Unspecified = netip.IPv6Unspecified()

// Sender carries a session's packets out. Send must copy pkt (the engine
// reuses its buffer) and should queue rather than block; the engine calls
// Flush, when implemented, once per round so transports can batch.
type Sender interface {
	Send(key PathKey, pkt []byte) error
}

// Flusher is implemented by Senders that batch.
type Flusher interface {
	Flush()
}

// Key is one authentication key. Several keys with different IDs may be
// configured at once: packets are accepted with any of them and sent with
// AuthConfig.TxKeyID, so keys change without the session going down.
type Key struct {
	ID     uint8
	Secret []byte
}

// AuthConfig is the session's RFC 5880 authentication.
type AuthConfig struct {
	// Type is AuthNone or one of AuthSimplePassword..AuthMeticulousKeyedSHA1.
	Type    AuthType
	TxKeyID uint8
	Keys    []Key
}

// StabilityConfig turns on the stability extension's Null-Authentication
// section (seed 002): a sequence number and, with Delay, a send timestamp.
type StabilityConfig struct {
	Enabled bool
	Delay   bool
	// AuthType is the code point of the section; 0 means AuthNull (6).
	AuthType AuthType
}

func (c StabilityConfig) authType() AuthType {
	if c.AuthType == AuthNone {
		return AuthNull
	}
	return c.AuthType
}

// SessionConfig is everything a session is configured with. Intervals are
// in microseconds, as on the wire.
type SessionConfig struct {
	Path                  PathKey
	DesiredMinTxInterval  uint32
	RequiredMinRxInterval uint32
	DetectMult            uint8
	// Passive sessions send nothing until the peer has been heard from
	// (RFC 5880 section 6.1).
	Passive bool
	// Demand asks the peer to stop periodic packets once both ends are Up.
	Demand    bool
	AdminDown bool
	// MinRxTTL drops received packets with a lower TTL or hop limit: 255
	// for single hop (RFC 5881, enforced whatever this says), configurable
	// for multihop (RFC 5883).
	MinRxTTL  uint8
	Auth      AuthConfig
	Stability StabilityConfig
	// SBFDRemoteDiscr is the reflector's discriminator of an S-BFD
	// initiator (Path.Kind PathSBFD), sent from the first packet on.
	SBFDRemoteDiscr uint32
	// Tag is the owner's handle for the session (the adapter's list key),
	// returned in Change events.
	Tag any
}

// Configuration errors.
var (
	ErrBadInterval     = errors.New("bfd: desired min tx interval must be at least 1 microsecond")
	ErrBadMultiplier   = errors.New("bfd: detection multiplier must be 1..255")
	ErrBadPath         = errors.New("bfd: path needs a kind and a remote address")
	ErrAuthAndStab     = errors.New("bfd: authentication and stability both need the authentication section; enable one")
	ErrNoTxKey         = errors.New("bfd: no key with the transmit key ID")
	ErrDuplicatePath   = errors.New("bfd: a session with this path already exists")
	ErrUnknownSession  = errors.New("bfd: no session with this discriminator")
	ErrBadAuthType     = errors.New("bfd: authentication type must be 1..5")
	ErrBadStabAuthType = errors.New("bfd: stability auth type must not be one of RFC 5880's types 1..5")
	ErrNoSBFDDiscr     = errors.New("bfd: an S-BFD initiator needs the reflector's discriminator")
)

// Validate checks c without touching any session.
func (c *SessionConfig) Validate() error {
	if c.Path.Kind == 0 || !c.Path.Remote.IsValid() {
		return ErrBadPath
	}
	if c.DesiredMinTxInterval == 0 {
		return ErrBadInterval
	}
	if c.DetectMult == 0 {
		return ErrBadMultiplier
	}
	if c.Path.Kind == PathSBFD && c.SBFDRemoteDiscr == 0 {
		return ErrNoSBFDDiscr
	}
	a := c.Auth
	if a.Type != AuthNone {
		if a.Type > AuthMeticulousKeyedSHA1 {
			return ErrBadAuthType
		}
		if c.Stability.Enabled {
			return ErrAuthAndStab
		}
		found := false
		for _, k := range a.Keys {
			max := MaxPasswordLen
			if a.Type.isSHA1() {
				max = 20
			}
			if len(k.Secret) == 0 || len(k.Secret) > max {
				return fmt.Errorf("key %d: %w", k.ID, ErrBadKeyLength)
			}
			found = found || k.ID == a.TxKeyID
		}
		if !found {
			return ErrNoTxKey
		}
	}
	if c.Stability.Enabled && c.Stability.authType() <= AuthMeticulousKeyedSHA1 {
		return ErrBadStabAuthType
	}
	return nil
}

func (c *SessionConfig) key(id uint8) []byte {
	for i := range c.Auth.Keys {
		if c.Auth.Keys[i].ID == id {
			return c.Auth.Keys[i].Secret
		}
	}
	return nil
}
