package bfd

import (
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
)

// Wire sizes of RFC 5880 section 4.
const (
	// Version is the only protocol version RFC 5880 defines; Decode
	// discards anything else (section 6.8.6).
	Version = 1
	// MandatoryLen is the size of the mandatory section (section 4.1).
	MandatoryLen = 24
	// MaxLen is the longest packet AppendEncode produces (mandatory section
	// plus a keyed SHA1 section), so a buffer of this capacity never grows.
	MaxLen = MandatoryLen + sha1AuthLen
	// MaxPasswordLen is the longest simple password (section 4.2).
	MaxPasswordLen = 16
)

// Auth Len values per type, RFC 5880 sections 4.2-4.4 and the stability
// draft's Null-Authentication TLV.
const (
	minAuthSection   = 2 // Auth Type and Auth Len: the 26-byte minimum of 6.8.6
	passwordAuthMin  = 3 + 1
	passwordAuthMax  = 3 + MaxPasswordLen
	md5AuthLen       = 24
	sha1AuthLen      = 28
	nullAuthLossLen  = 8
	nullAuthDelayLen = 12
	digestOffset     = MandatoryLen + 8 // Type, Len, Key ID, Reserved, Sequence Number
)

// Bits of the second byte of the mandatory section.
const (
	flagPoll       = 1 << 5
	flagFinal      = 1 << 4
	flagCPI        = 1 << 3
	flagAuth       = 1 << 2
	flagDemand     = 1 << 1
	flagMultipoint = 1 << 0
)

// State is the session state carried in the Sta field.
type State uint8

// Session states, numbered as on the wire (RFC 5880 section 4.1).
const (
	StateAdminDown State = 0
	StateDown      State = 1
	StateInit      State = 2
	StateUp        State = 3
)

var stateNames = [...]string{"admin-down", "down", "init", "up"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Diag is the diagnostic code carried in the Diag field: the sender's reason
// for its last change of session state.
type Diag uint8

// Diagnostic codes of RFC 5880 section 4.1. Values 9..31 are reserved; Decode
// accepts them because the RFC gives no reason to discard such a packet.
const (
	DiagNone                        Diag = 0
	DiagControlDetectionTimeExpired Diag = 1
	DiagEchoFunctionFailed          Diag = 2
	DiagNeighborSignaledSessionDown Diag = 3
	DiagForwardingPlaneReset        Diag = 4
	DiagPathDown                    Diag = 5
	DiagConcatenatedPathDown        Diag = 6
	DiagAdministrativelyDown        Diag = 7
	DiagReverseConcatenatedPathDown Diag = 8
)

var diagNames = [...]string{
	"none",
	"control-detection-time-expired",
	"echo-function-failed",
	"neighbor-signaled-session-down",
	"forwarding-plane-reset",
	"path-down",
	"concatenated-path-down",
	"administratively-down",
	"reverse-concatenated-path-down",
}

func (d Diag) String() string {
	if int(d) < len(diagNames) {
		return diagNames[d]
	}
	return "diag(" + strconv.Itoa(int(d)) + ")"
}

// AuthType is the Auth Type field of the authentication section.
type AuthType uint8

// Authentication types of RFC 5880 section 4.1, plus the default number of
// the stability draft's Null-Authentication TLV.
const (
	// AuthNone (0, reserved on the wire) marks a Packet without an
	// authentication section.
	AuthNone                AuthType = 0
	AuthSimplePassword      AuthType = 1
	AuthKeyedMD5            AuthType = 2
	AuthMeticulousKeyedMD5  AuthType = 3
	AuthKeyedSHA1           AuthType = 4
	AuthMeticulousKeyedSHA1 AuthType = 5
	// AuthNull is the number the BFD stability draft suggests for its
	// Null-Authentication TLV. IANA never assigned one, so the number is
	// configurable (DecodeOptions.NullAuthType); this is the default.
	AuthNull AuthType = 6
)

var authTypeNames = [...]string{
	"none",
	"simple-password",
	"keyed-md5",
	"meticulous-keyed-md5",
	"keyed-sha1",
	"meticulous-keyed-sha1",
	"null",
}

// String names the type. A Null-Authentication type configured to a number
// other than 6 prints as auth-type(N), since the number alone does not say.
func (t AuthType) String() string {
	if int(t) < len(authTypeNames) {
		return authTypeNames[t]
	}
	return "auth-type(" + strconv.Itoa(int(t)) + ")"
}

// isMD5 and isSHA1 say which digest a type uses; the keyed and meticulous
// variants differ only in how the session advances the sequence number.
func (t AuthType) isMD5() bool  { return t == AuthKeyedMD5 || t == AuthMeticulousKeyedMD5 }
func (t AuthType) isSHA1() bool { return t == AuthKeyedSHA1 || t == AuthMeticulousKeyedSHA1 }

// Null-Authentication Auth Key ID values: what the section carries.
const (
	NullAuthLoss         = 0 // sequence number only, Auth Len 8
	NullAuthLossAndDelay = 1 // sequence number and sender timestamp, Auth Len 12
)

// Reception errors. Decode returns these sentinels unwrapped so that
// rejecting a packet costs no allocation; compare with errors.Is.
var (
	ErrShort                 = errors.New("bfd: packet shorter than the 24-byte mandatory section")
	ErrBadVersion            = errors.New("bfd: version is not 1")
	ErrBadLength             = errors.New("bfd: Length field below the minimum (24, or 26 with the A bit)")
	ErrTruncated             = errors.New("bfd: Length field exceeds the received payload")
	ErrZeroDetectMult        = errors.New("bfd: Detect Mult is zero")
	ErrMultipoint            = errors.New("bfd: Multipoint bit set")
	ErrZeroMyDiscriminator   = errors.New("bfd: My Discriminator is zero")
	ErrZeroYourDiscriminator = errors.New("bfd: Your Discriminator is zero while State is Init or Up")
	ErrUnknownAuthType       = errors.New("bfd: unknown Auth Type")
	ErrBadAuthLength         = errors.New("bfd: Auth Len does not match the Auth Type")
	ErrAuthTruncated         = errors.New("bfd: authentication section extends past Length")
	ErrBadNullAuthKeyID      = errors.New("bfd: Null-Authentication Auth Key ID is neither 0 nor 1")
)

// Auth is the optional authentication section (RFC 5880 sections 4.2-4.4 and
// the stability draft's Null-Authentication TLV). Which fields are meaningful
// depends on Type:
//
//   - AuthSimplePassword: KeyID, PasswordData[:PasswordLen].
//   - keyed and meticulous keyed MD5: KeyID, Seq, Digest[:16].
//   - keyed and meticulous keyed SHA1: KeyID, Seq, Digest[:20].
//   - any other non-zero Type is laid out as Null-Authentication: KeyID
//     (NullAuthLoss or NullAuthLossAndDelay), Seq, and Timestamp when KeyID
//     is NullAuthLossAndDelay. Decode only produces such a Type when it
//     equals DecodeOptions.NullAuthType.
//
// Password and digest are fixed arrays, not slices into the received buffer:
// Decode then neither allocates nor ties the Packet to a buffer the caller
// will reuse for the next packet, and Packet stays comparable with ==.
type Auth struct {
	Type  AuthType
	KeyID uint8
	// Seq is the sequence number of the keyed and Null-Authentication types.
	Seq uint32
	// Timestamp is the sender timestamp of Null-Authentication with Key ID 1;
	// its unit is the sender's business (the draft leaves it open).
	Timestamp uint32
	// PasswordLen is the number of used bytes of PasswordData (1..16).
	PasswordLen  uint8
	PasswordData [MaxPasswordLen]byte
	// Digest carries the MD5 (first 16 bytes) or SHA1 (all 20) digest as
	// received or as to be sent. Checking it needs the packet bytes, so
	// authentication is done on the wire form: see VerifyMD5 and VerifySHA1.
	Digest [20]byte
}

// Password returns the simple password; it aliases a's storage.
func (a *Auth) Password() []byte {
	return a.PasswordData[:min(int(a.PasswordLen), MaxPasswordLen)]
}

// SetPassword stores pw (1..16 bytes, RFC 5880 section 4.2) as the simple
// password.
func (a *Auth) SetPassword(pw []byte) error {
	if len(pw) == 0 || len(pw) > MaxPasswordLen {
		return ErrBadKeyLength
	}
	a.PasswordData = [MaxPasswordLen]byte{}
	a.PasswordLen = uint8(copy(a.PasswordData[:], pw))
	return nil
}

// DigestBytes returns the used part of Digest for the MD5 and SHA1 types and
// nil for the others; it aliases a's storage.
func (a *Auth) DigestBytes() []byte {
	switch {
	case a.Type.isMD5():
		return a.Digest[:16]
	case a.Type.isSHA1():
		return a.Digest[:20]
	}
	return nil
}

// wireLen is the Auth Len AppendEncode writes for a, 0 for no section.
func (a *Auth) wireLen() int {
	switch {
	case a.Type == AuthNone:
		return 0
	case a.Type == AuthSimplePassword:
		return 3 + min(int(a.PasswordLen), MaxPasswordLen)
	case a.Type.isMD5():
		return md5AuthLen
	case a.Type.isSHA1():
		return sha1AuthLen
	case a.KeyID == NullAuthLossAndDelay:
		return nullAuthDelayLen
	}
	return nullAuthLossLen
}

// Packet is a BFD Control packet (RFC 5880 section 4). Intervals are in
// microseconds, as on the wire.
//
// Decode fills every field from the wire. AppendEncode writes the fields as
// they are, without validating them (tests build invalid packets that way),
// except Length and AuthPresent, which it derives: Length from the size of
// what it writes and the A bit from Auth.Type != AuthNone.
type Packet struct {
	// Version is 1 after a successful Decode; AppendEncode writes 1 when
	// it is 0 so that a zero Packet encodes as version 1.
	Version                 uint8
	Diag                    Diag
	State                   State
	Poll                    bool
	Final                   bool
	ControlPlaneIndependent bool
	AuthPresent             bool
	Demand                  bool
	Multipoint              bool
	DetectMult              uint8
	// Length is the Length field as received. Bytes past it are not part
	// of the packet (RFC 5880 6.8.6); bytes between the end of the last
	// section and Length are accepted and ignored, as the RFC does not
	// discard such packets.
	Length                    uint8
	MyDiscriminator           uint32
	YourDiscriminator         uint32
	DesiredMinTxInterval      uint32
	RequiredMinRxInterval     uint32
	RequiredMinEchoRxInterval uint32
	Auth                      Auth
}

// DecodeOptions are the receiver's settings that change how bytes are read.
// The zero value is the default.
type DecodeOptions struct {
	// NullAuthType is the Auth Type number of the stability extension's
	// Null-Authentication TLV; 0 means AuthNull (6). The RFC 5880 types 1..5
	// keep their meaning whatever this says.
	NullAuthType AuthType
}

func (o DecodeOptions) nullAuthType() AuthType {
	if o.NullAuthType == AuthNone {
		return AuthNull
	}
	return o.NullAuthType
}

// Decode parses b, the UDP payload, into p and applies the reception checks
// of RFC 5880 section 6.8.6 that need nothing but the packet: version, Length
// against minimum and payload, Detect Mult, Multipoint, My Discriminator,
// Your Discriminator against State, and the authentication section's type
// and length. Session checks (lookup by discriminator, whether
// authentication is in use, digest and sequence number) are the caller's.
//
// The error is one of the Err sentinels, unwrapped. On error p is unchanged.
// Decode does not allocate and keeps no reference to b.
func (p *Packet) Decode(b []byte, opts DecodeOptions) error {
	if len(b) < MandatoryLen {
		return ErrShort
	}
	if b[0]>>5 != Version {
		return ErrBadVersion
	}
	flags := b[1]
	length := int(b[3])
	authPresent := flags&flagAuth != 0
	if length < MandatoryLen || authPresent && length < MandatoryLen+minAuthSection {
		return ErrBadLength
	}
	if length > len(b) {
		return ErrTruncated
	}
	if b[2] == 0 {
		return ErrZeroDetectMult
	}
	if flags&flagMultipoint != 0 {
		return ErrMultipoint
	}
	myDisc := binary.BigEndian.Uint32(b[4:8])
	if myDisc == 0 {
		return ErrZeroMyDiscriminator
	}
	state := State(flags >> 6)
	yourDisc := binary.BigEndian.Uint32(b[8:12])
	if yourDisc == 0 && state != StateDown && state != StateAdminDown {
		return ErrZeroYourDiscriminator
	}
	var auth Auth
	if authPresent {
		if err := auth.decode(b[MandatoryLen:length], opts.nullAuthType()); err != nil {
			return err
		}
	}
	*p = Packet{
		Version:                   Version,
		Diag:                      Diag(b[0] & 0x1f),
		State:                     state,
		Poll:                      flags&flagPoll != 0,
		Final:                     flags&flagFinal != 0,
		ControlPlaneIndependent:   flags&flagCPI != 0,
		AuthPresent:               authPresent,
		Demand:                    flags&flagDemand != 0,
		DetectMult:                b[2],
		Length:                    uint8(length),
		MyDiscriminator:           myDisc,
		YourDiscriminator:         yourDisc,
		DesiredMinTxInterval:      binary.BigEndian.Uint32(b[12:16]),
		RequiredMinRxInterval:     binary.BigEndian.Uint32(b[16:20]),
		RequiredMinEchoRxInterval: binary.BigEndian.Uint32(b[20:24]),
		Auth:                      auth,
	}
	return nil
}

// decode parses the authentication section; s runs from its first byte to
// the packet's Length and holds at least Auth Type and Auth Len.
func (a *Auth) decode(s []byte, nullType AuthType) error {
	typ := AuthType(s[0])
	authLen := int(s[1])
	// Type and Auth Len are checked against each other before Auth Len is
	// checked against the space left, so that each fault has its own error.
	switch {
	case typ == AuthSimplePassword:
		if authLen < passwordAuthMin || authLen > passwordAuthMax {
			return ErrBadAuthLength
		}
	case typ.isMD5():
		if authLen != md5AuthLen {
			return ErrBadAuthLength
		}
	case typ.isSHA1():
		if authLen != sha1AuthLen {
			return ErrBadAuthLength
		}
	case typ == nullType:
		if authLen != nullAuthLossLen && authLen != nullAuthDelayLen {
			return ErrBadAuthLength
		}
	default:
		return ErrUnknownAuthType
	}
	if authLen > len(s) {
		return ErrAuthTruncated
	}
	s = s[:authLen]
	a.Type = typ
	a.KeyID = s[2]
	// s[3] of the keyed and null types is Reserved: ignored on receipt.
	switch {
	case typ == AuthSimplePassword:
		a.PasswordLen = uint8(copy(a.PasswordData[:], s[3:]))
	case typ.isMD5(), typ.isSHA1():
		a.Seq = binary.BigEndian.Uint32(s[4:8])
		copy(a.Digest[:], s[8:])
	default:
		switch a.KeyID {
		case NullAuthLoss:
			if authLen != nullAuthLossLen {
				return ErrBadAuthLength
			}
		case NullAuthLossAndDelay:
			if authLen != nullAuthDelayLen {
				return ErrBadAuthLength
			}
			a.Timestamp = binary.BigEndian.Uint32(s[8:12])
		default:
			return ErrBadNullAuthKeyID
		}
		a.Seq = binary.BigEndian.Uint32(s[4:8])
	}
	return nil
}

// EncodedLen is the number of bytes AppendEncode will append for p.
func (p *Packet) EncodedLen() int {
	return MandatoryLen + p.Auth.wireLen()
}

// AppendEncode appends p in wire form to dst and returns the extended slice.
// It allocates only when dst lacks capacity (MaxLen always suffices). Digests
// are written as they are in Auth.Digest; sign the result with SignMD5 or
// SignSHA1.
func (p *Packet) AppendEncode(dst []byte) []byte {
	authLen := p.Auth.wireLen()
	n := MandatoryLen + authLen
	dst = slices.Grow(dst, n)
	start := len(dst)
	dst = dst[:start+n]
	b := dst[start:]

	version := p.Version
	if version == 0 {
		version = Version
	}
	b[0] = (version&7)<<5 | uint8(p.Diag)&0x1f
	flags := uint8(p.State&3) << 6
	if p.Poll {
		flags |= flagPoll
	}
	if p.Final {
		flags |= flagFinal
	}
	if p.ControlPlaneIndependent {
		flags |= flagCPI
	}
	if authLen > 0 {
		flags |= flagAuth
	}
	if p.Demand {
		flags |= flagDemand
	}
	if p.Multipoint {
		flags |= flagMultipoint
	}
	b[1] = flags
	b[2] = p.DetectMult
	b[3] = uint8(n)
	binary.BigEndian.PutUint32(b[4:8], p.MyDiscriminator)
	binary.BigEndian.PutUint32(b[8:12], p.YourDiscriminator)
	binary.BigEndian.PutUint32(b[12:16], p.DesiredMinTxInterval)
	binary.BigEndian.PutUint32(b[16:20], p.RequiredMinRxInterval)
	binary.BigEndian.PutUint32(b[20:24], p.RequiredMinEchoRxInterval)
	if authLen > 0 {
		p.Auth.encode(b[MandatoryLen:])
	}
	return dst
}

// encode writes the section into s, which is exactly wireLen bytes and may
// hold stale bytes from a reused buffer, so every byte is written.
func (a *Auth) encode(s []byte) {
	s[0] = uint8(a.Type)
	s[1] = uint8(len(s))
	s[2] = a.KeyID
	if a.Type == AuthSimplePassword {
		copy(s[3:], a.PasswordData[:])
		return
	}
	s[3] = 0 // Reserved
	binary.BigEndian.PutUint32(s[4:8], a.Seq)
	switch {
	case a.Type.isMD5(), a.Type.isSHA1():
		copy(s[8:], a.Digest[:])
	case len(s) == nullAuthDelayLen:
		binary.BigEndian.PutUint32(s[8:12], a.Timestamp)
	}
}
