package bfd

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"errors"
	"fmt"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// basePacket is a valid Up packet without authentication.
func basePacket() Packet {
	return Packet{
		Version:                   Version,
		State:                     StateUp,
		DetectMult:                3,
		MyDiscriminator:           0x11223344,
		YourDiscriminator:         0x55667788,
		DesiredMinTxInterval:      300_000,
		RequiredMinRxInterval:     300_000,
		RequiredMinEchoRxInterval: 50_000,
	}
}

// authSample is a valid packet and the options to decode it with.
type authSample struct {
	name string
	p    Packet
	opts DecodeOptions
}

// authSamples returns one valid packet per authentication layout.
func authSamples() []authSample {
	withAuth := func(a Auth) Packet {
		p := basePacket()
		p.Auth = a
		return p
	}
	pw := func(s string) Auth {
		var a Auth
		a.Type = AuthSimplePassword
		a.KeyID = 9
		if err := a.SetPassword([]byte(s)); err != nil {
			panic(err)
		}
		return a
	}
	var digest [20]byte
	for i := range digest {
		digest[i] = byte(0xa0 + i)
	}
	var md5Digest [20]byte
	copy(md5Digest[:16], digest[:])
	return []authSample{
		{"none", basePacket(), DecodeOptions{}},
		{"password-1", withAuth(pw("x")), DecodeOptions{}},
		{"password-7", withAuth(pw("secret!")), DecodeOptions{}},
		{"password-16", withAuth(pw("0123456789abcdef")), DecodeOptions{}},
		{"keyed-md5", withAuth(Auth{Type: AuthKeyedMD5, KeyID: 1, Seq: 0xdeadbeef, Digest: md5Digest}), DecodeOptions{}},
		{"meticulous-keyed-md5", withAuth(Auth{Type: AuthMeticulousKeyedMD5, KeyID: 2, Seq: 7, Digest: md5Digest}), DecodeOptions{}},
		{"keyed-sha1", withAuth(Auth{Type: AuthKeyedSHA1, KeyID: 3, Seq: 1, Digest: digest}), DecodeOptions{}},
		{"meticulous-keyed-sha1", withAuth(Auth{Type: AuthMeticulousKeyedSHA1, KeyID: 255, Seq: 0xffffffff, Digest: digest}), DecodeOptions{}},
		{"null-loss", withAuth(Auth{Type: AuthNull, KeyID: NullAuthLoss, Seq: 42}), DecodeOptions{}},
		{"null-loss-and-delay", withAuth(Auth{Type: AuthNull, KeyID: NullAuthLossAndDelay, Seq: 43, Timestamp: 0x01020304}), DecodeOptions{}},
		{"null-type-200", withAuth(Auth{Type: 200, KeyID: NullAuthLossAndDelay, Seq: 44, Timestamp: 99}), DecodeOptions{NullAuthType: 200}},
	}
}

// encoded returns p's wire form with Length and AuthPresent as Decode will
// report them, so that the two can be compared with ==.
func encoded(p Packet) ([]byte, Packet) {
	b := p.AppendEncode(nil)
	p.Length = uint8(len(b))
	p.AuthPresent = p.Auth.Type != AuthNone
	if p.Version == 0 {
		p.Version = Version
	}
	return b, p
}

func TestStrings(t *testing.T) {
	states := map[State]string{StateAdminDown: "admin-down", StateDown: "down", StateInit: "init", StateUp: "up", 4: "state(4)"}
	for s, want := range states {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", s, got, want)
		}
	}
	diags := []string{"none", "control-detection-time-expired", "echo-function-failed",
		"neighbor-signaled-session-down", "forwarding-plane-reset", "path-down",
		"concatenated-path-down", "administratively-down", "reverse-concatenated-path-down"}
	for i, want := range diags {
		if got := Diag(i).String(); got != want {
			t.Errorf("Diag(%d).String() = %q, want %q", i, got, want)
		}
	}
	if got := Diag(31).String(); got != "diag(31)" {
		t.Errorf("Diag(31).String() = %q", got)
	}
	auths := []string{"none", "simple-password", "keyed-md5", "meticulous-keyed-md5", "keyed-sha1", "meticulous-keyed-sha1", "null", "auth-type(7)"}
	for i, want := range auths {
		if got := AuthType(i).String(); got != want {
			t.Errorf("AuthType(%d).String() = %q, want %q", i, got, want)
		}
	}
}

func TestRoundTripStatesDiagsFlags(t *testing.T) {
	diags := []Diag{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 31}
	for state := StateAdminDown; state <= StateUp; state++ {
		for _, diag := range diags {
			for flags := range 16 {
				p := basePacket()
				p.State = state
				p.Diag = diag
				p.Poll = flags&1 != 0
				p.Final = flags&2 != 0
				p.ControlPlaneIndependent = flags&4 != 0
				p.Demand = flags&8 != 0
				p.DetectMult = uint8(1 + flags*16)
				b, want := encoded(p)
				if len(b) != MandatoryLen {
					t.Fatalf("encoded length %d", len(b))
				}
				var got Packet
				if err := got.Decode(b, DecodeOptions{}); err != nil {
					t.Fatalf("state %v diag %v flags %04b: %v", state, diag, flags, err)
				}
				if got != want {
					t.Fatalf("state %v diag %v flags %04b:\n got %+v\nwant %+v", state, diag, flags, got, want)
				}
			}
		}
	}
}

func TestRoundTripAuth(t *testing.T) {
	for _, s := range authSamples() {
		t.Run(s.name, func(t *testing.T) {
			b, want := encoded(s.p)
			if len(b) != s.p.EncodedLen() {
				t.Errorf("EncodedLen %d, AppendEncode wrote %d", s.p.EncodedLen(), len(b))
			}
			var got Packet
			if err := got.Decode(b, s.opts); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("\n got %+v\nwant %+v", got, want)
			}
			if got.Auth.Type == AuthSimplePassword && !got.Auth.PasswordMatches(s.p.Auth.Password()) {
				t.Error("PasswordMatches false for the sent password")
			}
			// Appending after existing bytes must leave them alone.
			prefix := []byte{1, 2, 3}
			b2 := s.p.AppendEncode(prefix)
			if !bytes.Equal(b2[:3], prefix) || !bytes.Equal(b2[3:], b) {
				t.Errorf("AppendEncode after a prefix: % x", b2)
			}
		})
	}
}

func TestPasswordHelpers(t *testing.T) {
	var a Auth
	if err := a.SetPassword(nil); !errors.Is(err, ErrBadKeyLength) {
		t.Errorf("empty password: %v", err)
	}
	if err := a.SetPassword(make([]byte, 17)); !errors.Is(err, ErrBadKeyLength) {
		t.Errorf("17-byte password: %v", err)
	}
	a.Type = AuthSimplePassword
	if err := a.SetPassword([]byte("longer-password")); err != nil {
		t.Fatal(err)
	}
	if err := a.SetPassword([]byte("pw")); err != nil {
		t.Fatal(err)
	}
	if string(a.Password()) != "pw" || a.PasswordData[2] != 0 {
		t.Errorf("SetPassword left %q / % x", a.Password(), a.PasswordData)
	}
	for _, bad := range []string{"", "p", "pw2", "PW"} {
		if a.PasswordMatches([]byte(bad)) {
			t.Errorf("PasswordMatches(%q) = true", bad)
		}
	}
	if !a.PasswordMatches([]byte("pw")) {
		t.Error("PasswordMatches(pw) = false")
	}
	// An over-long PasswordLen (only reachable by setting the field by
	// hand) must not make Password or AppendEncode panic.
	a.PasswordLen = 200
	if len(a.Password()) != MaxPasswordLen {
		t.Errorf("Password() with PasswordLen 200 has %d bytes", len(a.Password()))
	}
	p := basePacket()
	p.Auth = a
	if n := len(p.AppendEncode(nil)); n != MandatoryLen+3+MaxPasswordLen {
		t.Errorf("encoded %d bytes", n)
	}
}

// TestDecodeVector decodes packets written byte by byte from the field
// layout of RFC 5880 sections 4.1 and 4.4, and checks that AppendEncode
// produces exactly those bytes back.
func TestDecodeVector(t *testing.T) {
	plain := []byte{
		0x23,                   // Vers 1 (001), Diag 3 (00011): neighbor signaled session down
		0xe8,                   // Sta Up (11), P 1, F 0, C 1, A 0, D 0, M 0
		0x05,                   // Detect Mult 5
		0x18,                   // Length 24
		0x01, 0x02, 0x03, 0x04, // My Discriminator
		0x0a, 0x0b, 0x0c, 0x0d, // Your Discriminator
		0x00, 0x0f, 0x42, 0x40, // Desired Min TX Interval 1,000,000 µs
		0x00, 0x04, 0x93, 0xe0, // Required Min RX Interval 300,000 µs
		0x00, 0x00, 0x00, 0x00, // Required Min Echo RX Interval 0: no echo
	}
	wantPlain := Packet{
		Version: 1, Diag: DiagNeighborSignaledSessionDown, State: StateUp,
		Poll: true, ControlPlaneIndependent: true, DetectMult: 5, Length: 24,
		MyDiscriminator: 0x01020304, YourDiscriminator: 0x0a0b0c0d,
		DesiredMinTxInterval: 1_000_000, RequiredMinRxInterval: 300_000,
	}

	sha := []byte{
		0x21,                   // Vers 1, Diag 1: control detection time expired
		0x54,                   // Sta Down (01), P 0, F 1, C 0, A 1, D 0, M 0
		0x03,                   // Detect Mult 3
		0x34,                   // Length 52 = 24 + 28
		0x00, 0x00, 0x00, 0x2a, // My Discriminator 42
		0x00, 0x00, 0x00, 0x00, // Your Discriminator 0: allowed while Down
		0x00, 0x00, 0x27, 0x10, // Desired Min TX 10,000 µs
		0x00, 0x00, 0x4e, 0x20, // Required Min RX 20,000 µs
		0x00, 0x00, 0x75, 0x30, // Required Min Echo RX 30,000 µs
		0x05,                   // Auth Type 5: meticulous keyed SHA1
		0x1c,                   // Auth Len 28
		0x07,                   // Auth Key ID 7
		0x00,                   // Reserved
		0x00, 0x00, 0x01, 0x00, // Sequence Number 256
	}
	for i := range 20 {
		sha = append(sha, byte(i+1)) // Auth Key/Hash
	}
	wantSHA := Packet{
		Version: 1, Diag: DiagControlDetectionTimeExpired, State: StateDown,
		Final: true, AuthPresent: true, DetectMult: 3, Length: 52,
		MyDiscriminator: 42, DesiredMinTxInterval: 10_000,
		RequiredMinRxInterval: 20_000, RequiredMinEchoRxInterval: 30_000,
		Auth: Auth{Type: AuthMeticulousKeyedSHA1, KeyID: 7, Seq: 256,
			Digest: [20]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}},
	}

	null := []byte{
		0x20, 0xc0, 0x03, 0x24, // Vers 1, Diag 0; Up; Detect Mult 3; Length 36
		0, 0, 0, 1, 0, 0, 0, 2, // My, Your Discriminator
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // intervals 0
		0x06, 0x0c, 0x01, 0x00, // Auth Type 6 (Null), Auth Len 12, Key ID 1 (loss and delay), Reserved
		0x00, 0x00, 0x00, 0x09, // Sequence Number 9
		0x65, 0x43, 0x21, 0x00, // Sender timestamp
	}
	null[1] |= flagAuth
	wantNull := Packet{
		Version: 1, State: StateUp, AuthPresent: true, DetectMult: 3, Length: 36,
		MyDiscriminator: 1, YourDiscriminator: 2,
		Auth: Auth{Type: AuthNull, KeyID: 1, Seq: 9, Timestamp: 0x65432100},
	}

	for _, tc := range []struct {
		name string
		b    []byte
		want Packet
	}{{"plain", plain, wantPlain}, {"sha1", sha, wantSHA}, {"null", null, wantNull}} {
		t.Run(tc.name, func(t *testing.T) {
			var got Packet
			if err := got.Decode(tc.b, DecodeOptions{}); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("\n got %+v\nwant %+v", got, tc.want)
			}
			if enc := tc.want.AppendEncode(nil); !bytes.Equal(enc, tc.b) {
				t.Fatalf("AppendEncode\n got % x\nwant % x", enc, tc.b)
			}
		})
	}
}

// wire returns the encoding of the base packet changed by edit, so that each
// rejected case differs from a valid packet in exactly the field under test.
func wire(auth Auth, edit func(b []byte) []byte) []byte {
	p := basePacket()
	p.Auth = auth
	b := p.AppendEncode(nil)
	return edit(b)
}

func TestDecodeRejects(t *testing.T) {
	sha1Auth := Auth{Type: AuthKeyedSHA1, KeyID: 1, Seq: 1}
	md5Auth := Auth{Type: AuthKeyedMD5, KeyID: 1, Seq: 1}
	pwAuth := Auth{Type: AuthSimplePassword, KeyID: 1, PasswordLen: 4, PasswordData: [16]byte{'a', 'b', 'c', 'd'}}
	nullLoss := Auth{Type: AuthNull, KeyID: NullAuthLoss, Seq: 1}
	nullDelay := Auth{Type: AuthNull, KeyID: NullAuthLossAndDelay, Seq: 1}
	cases := []struct {
		name string
		b    []byte
		opts DecodeOptions
		want error
	}{
		{"empty", nil, DecodeOptions{}, ErrShort},
		{"23 bytes", wire(Auth{}, func(b []byte) []byte { return b[:23] }), DecodeOptions{}, ErrShort},
		{"version 0", wire(Auth{}, set(0, 0x00)), DecodeOptions{}, ErrBadVersion},
		{"version 2", wire(Auth{}, set(0, 0x40)), DecodeOptions{}, ErrBadVersion},
		{"version 7", wire(Auth{}, set(0, 0xe0)), DecodeOptions{}, ErrBadVersion},
		{"length 0", wire(Auth{}, set(3, 0)), DecodeOptions{}, ErrBadLength},
		{"length 23", wire(Auth{}, set(3, 23)), DecodeOptions{}, ErrBadLength},
		{"A bit, length 24", wire(sha1Auth, set(3, 24)), DecodeOptions{}, ErrBadLength},
		{"A bit, length 25", wire(sha1Auth, set(3, 25)), DecodeOptions{}, ErrBadLength},
		{"A bit on a 24-byte packet", wire(Auth{}, func(b []byte) []byte { b[1] |= flagAuth; return b }), DecodeOptions{}, ErrBadLength},
		{"length 25 > payload 24", wire(Auth{}, set(3, 25)), DecodeOptions{}, ErrTruncated},
		{"length 255 > payload 24", wire(Auth{}, set(3, 255)), DecodeOptions{}, ErrTruncated},
		{"auth cut off by the payload", wire(sha1Auth, func(b []byte) []byte { return b[:51] }), DecodeOptions{}, ErrTruncated},
		{"detect mult 0", wire(Auth{}, set(2, 0)), DecodeOptions{}, ErrZeroDetectMult},
		{"multipoint", wire(Auth{}, func(b []byte) []byte { b[1] |= flagMultipoint; return b }), DecodeOptions{}, ErrMultipoint},
		{"my discriminator 0", wire(Auth{}, func(b []byte) []byte { clear(b[4:8]); return b }), DecodeOptions{}, ErrZeroMyDiscriminator},
		{"your discriminator 0, Up", wire(Auth{}, func(b []byte) []byte { clear(b[8:12]); return b }), DecodeOptions{}, ErrZeroYourDiscriminator},
		{"your discriminator 0, Init", wire(Auth{}, func(b []byte) []byte {
			clear(b[8:12])
			b[1] = b[1]&0x3f | uint8(StateInit)<<6
			return b
		}), DecodeOptions{}, ErrZeroYourDiscriminator},
		{"auth type 0", wire(sha1Auth, set(24, 0)), DecodeOptions{}, ErrUnknownAuthType},
		{"auth type 7", wire(sha1Auth, set(24, 7)), DecodeOptions{}, ErrUnknownAuthType},
		{"auth type 6, null type moved to 7", wire(nullLoss, unchanged), DecodeOptions{NullAuthType: 7}, ErrUnknownAuthType},
		{"password auth len 3", wire(pwAuth, set(25, 3)), DecodeOptions{}, ErrBadAuthLength},
		{"password auth len 20", wire(pwAuth, func(b []byte) []byte {
			b = append(b, make([]byte, 13)...)
			b[3], b[25] = 24+20, 20
			return b
		}), DecodeOptions{}, ErrBadAuthLength},
		{"md5 auth len 23", wire(md5Auth, set(25, 23)), DecodeOptions{}, ErrBadAuthLength},
		{"md5 auth len 28", wire(md5Auth, set(25, 28)), DecodeOptions{}, ErrBadAuthLength},
		{"meticulous md5 auth len 28", wire(md5Auth, func(b []byte) []byte { b[24], b[25] = 3, 28; return b }), DecodeOptions{}, ErrBadAuthLength},
		{"sha1 auth len 24", wire(sha1Auth, set(25, 24)), DecodeOptions{}, ErrBadAuthLength},
		{"sha1 auth len 29", wire(sha1Auth, set(25, 29)), DecodeOptions{}, ErrBadAuthLength},
		{"null auth len 10", wire(nullDelay, set(25, 10)), DecodeOptions{}, ErrBadAuthLength},
		// A length no Null-Authentication section can have is a length
		// fault, not a truncation, however far past Length it reaches.
		{"null auth len 255", wire(nullDelay, set(25, 255)), DecodeOptions{}, ErrBadAuthLength},
		{"null key id 0, auth len 12", wire(nullDelay, set(26, NullAuthLoss)), DecodeOptions{}, ErrBadAuthLength},
		{"null key id 1, auth len 8", wire(nullLoss, set(26, NullAuthLossAndDelay)), DecodeOptions{}, ErrBadAuthLength},
		{"null key id 2", wire(nullLoss, set(26, 2)), DecodeOptions{}, ErrBadNullAuthKeyID},
		{"sha1 section past Length", wire(sha1Auth, set(3, 51)), DecodeOptions{}, ErrAuthTruncated},
		{"md5 section past Length", wire(md5Auth, set(3, 47)), DecodeOptions{}, ErrAuthTruncated},
		{"password section past Length", wire(pwAuth, func(b []byte) []byte {
			b[25] = 10 // claims a 7-byte password; Length covers 4
			return append(b, 'e', 'f', 'g')
		}), DecodeOptions{}, ErrAuthTruncated},
		{"null section past Length", wire(nullDelay, set(3, 35)), DecodeOptions{}, ErrAuthTruncated},
	}
	sentinels := []error{ErrShort, ErrBadVersion, ErrBadLength, ErrTruncated, ErrZeroDetectMult,
		ErrMultipoint, ErrZeroMyDiscriminator, ErrZeroYourDiscriminator, ErrUnknownAuthType,
		ErrBadAuthLength, ErrAuthTruncated, ErrBadNullAuthKeyID}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sentinel := basePacket()
			sentinel.MyDiscriminator = 0xfeedface
			p := sentinel
			err := p.Decode(tc.b, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode(% x) = %v, want %v", tc.b, err, tc.want)
			}
			for _, other := range sentinels {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("error also matches %v", other)
				}
			}
			if p != sentinel {
				t.Errorf("Decode changed p on error: %+v", p)
			}
		})
	}
}

// unchanged is the identity edit for wire.
func unchanged(b []byte) []byte { return b }

// TestDecodeAccepts covers packets that look suspicious but that RFC 5880
// does not let a receiver discard.
func TestDecodeAccepts(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		opts DecodeOptions
		want func(p *Packet)
	}{
		{"your discriminator 0, Down", wire(Auth{}, func(b []byte) []byte {
			clear(b[8:12])
			b[1] = b[1]&0x3f | uint8(StateDown)<<6
			return b
		}), DecodeOptions{}, func(p *Packet) { p.YourDiscriminator = 0; p.State = StateDown }},
		{"your discriminator 0, AdminDown", wire(Auth{}, func(b []byte) []byte {
			clear(b[8:12])
			b[1] &= 0x3f
			return b
		}), DecodeOptions{}, func(p *Packet) { p.YourDiscriminator = 0; p.State = StateAdminDown }},
		{"bytes past Length are ignored", wire(Auth{}, func(b []byte) []byte {
			return append(b, 0xff, 0xff, 0xff, 0xff)
		}), DecodeOptions{}, func(p *Packet) {}},
		{"bytes inside Length after the mandatory section", wire(Auth{}, func(b []byte) []byte {
			b[3] = 28
			return append(b, 0xff, 0xff, 0xff, 0xff)
		}), DecodeOptions{}, func(p *Packet) { p.Length = 28 }},
		{"reserved byte of a keyed section is ignored", wire(Auth{Type: AuthKeyedSHA1, KeyID: 1, Seq: 1}, set(27, 0xff)), DecodeOptions{},
			func(p *Packet) {
				p.AuthPresent, p.Length = true, 52
				p.Auth = Auth{Type: AuthKeyedSHA1, KeyID: 1, Seq: 1}
			}},
		{"null auth under type 200", wire(Auth{Type: 200, KeyID: 0, Seq: 5}, unchanged), DecodeOptions{NullAuthType: 200},
			func(p *Packet) {
				p.AuthPresent, p.Length = true, 32
				p.Auth = Auth{Type: 200, Seq: 5}
			}},
		{"null type set to 2 keeps type 2 as keyed MD5", wire(Auth{Type: AuthKeyedMD5, KeyID: 4, Seq: 5}, unchanged), DecodeOptions{NullAuthType: AuthKeyedMD5},
			func(p *Packet) {
				p.AuthPresent, p.Length = true, 48
				p.Auth = Auth{Type: AuthKeyedMD5, KeyID: 4, Seq: 5}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := basePacket()
			want.Length = MandatoryLen
			tc.want(&want)
			var got Packet
			if err := got.Decode(tc.b, tc.opts); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// set is an edit for wire that stores v at offset i.
func set(i int, v byte) func([]byte) []byte {
	return func(b []byte) []byte { b[i] = v; return b }
}

func TestEncodeWritesEveryByte(t *testing.T) {
	// A reused buffer full of stale bytes must not leak into the packet.
	for _, s := range authSamples() {
		dirty := bytes.Repeat([]byte{0xff}, MaxLen)
		got := s.p.AppendEncode(dirty[:0])
		want := s.p.AppendEncode(nil)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: dirty buffer gave % x, want % x", s.name, got, want)
		}
	}
}

type digestFuncs struct {
	name   string
	types  []AuthType
	size   int
	sign   func(pkt, key []byte) error
	verify func(pkt, key []byte) bool
	sum    func([]byte) []byte
}

var digests = []digestFuncs{
	{"md5", []AuthType{AuthKeyedMD5, AuthMeticulousKeyedMD5}, 16, SignMD5, VerifyMD5,
		func(b []byte) []byte { s := md5.Sum(b); return s[:] }},
	{"sha1", []AuthType{AuthKeyedSHA1, AuthMeticulousKeyedSHA1}, 20, SignSHA1, VerifySHA1,
		func(b []byte) []byte { s := sha1.Sum(b); return s[:] }},
}

func TestSignVerify(t *testing.T) {
	for _, d := range digests {
		for _, typ := range d.types {
			t.Run(typ.String(), func(t *testing.T) {
				key := []byte("the-shared-key")
				p := basePacket()
				p.Auth = Auth{Type: typ, KeyID: 5, Seq: 1000}
				pkt := p.AppendEncode(nil)
				if err := d.sign(pkt, key); err != nil {
					t.Fatal(err)
				}

				// Known answer from the RFC's definition, built independently:
				// hash the packet with the key, zero-padded, in the digest field.
				ref := p.AppendEncode(nil)
				field := ref[32 : 32+d.size]
				clear(field)
				copy(field, key)
				if want := d.sum(ref); !bytes.Equal(pkt[32:32+d.size], want) {
					t.Fatalf("digest % x, want % x", pkt[32:32+d.size], want)
				}

				orig := bytes.Clone(pkt)
				if !d.verify(pkt, key) {
					t.Fatal("verify with the right key failed")
				}
				if !bytes.Equal(pkt, orig) {
					t.Fatal("verify modified the packet")
				}
				var dec Packet
				if err := dec.Decode(pkt, DecodeOptions{}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(dec.Auth.DigestBytes(), pkt[32:32+d.size]) {
					t.Error("decoded digest differs from the wire")
				}
				// A signed packet re-encoded from its decoded form verifies too.
				if !d.verify(dec.AppendEncode(nil), key) {
					t.Error("re-encoded signed packet does not verify")
				}

				for _, wrong := range [][]byte{[]byte("the-shared-kez"), []byte("the-shared-ke"), []byte("x"), nil, make([]byte, d.size+1)} {
					if d.verify(pkt, wrong) {
						t.Errorf("verify accepted key %q", wrong)
					}
				}
				for bit := range len(pkt) * 8 {
					flipped := bytes.Clone(pkt)
					flipped[bit/8] ^= 1 << (bit % 8)
					if d.verify(flipped, key) {
						t.Fatalf("verify accepted the packet with bit %d flipped", bit)
					}
				}
				if d.verify(pkt[:len(pkt)-1], key) {
					t.Error("verify accepted a truncated packet")
				}
				// Bytes after Length are not covered and do not matter.
				if !d.verify(append(bytes.Clone(pkt), 0xee), key) {
					t.Error("verify rejected a packet with bytes past Length")
				}
			})
		}
	}
}

func TestSignErrors(t *testing.T) {
	plain := basePacket()
	md5Pkt := basePacket()
	md5Pkt.Auth = Auth{Type: AuthKeyedMD5}
	sha1Pkt := basePacket()
	sha1Pkt.Auth = Auth{Type: AuthKeyedSHA1}
	pwPkt := basePacket()
	pwPkt.Auth = Auth{Type: AuthSimplePassword, PasswordLen: 16}
	key := []byte("k")
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"md5 empty key", SignMD5(md5Pkt.AppendEncode(nil), nil), ErrBadKeyLength},
		{"md5 17-byte key", SignMD5(md5Pkt.AppendEncode(nil), make([]byte, 17)), ErrBadKeyLength},
		{"sha1 21-byte key", SignSHA1(sha1Pkt.AppendEncode(nil), make([]byte, 21)), ErrBadKeyLength},
		{"md5 on a packet without auth", SignMD5(plain.AppendEncode(nil), key), ErrNoDigestSection},
		{"md5 on a sha1 packet", SignMD5(sha1Pkt.AppendEncode(nil), key), ErrNoDigestSection},
		{"sha1 on an md5 packet", SignSHA1(md5Pkt.AppendEncode(nil), key), ErrNoDigestSection},
		{"sha1 on a password packet", SignSHA1(pwPkt.AppendEncode(nil), key), ErrNoDigestSection},
		{"md5 on a truncated packet", SignMD5(md5Pkt.AppendEncode(nil)[:47], key), ErrNoDigestSection},
		{"sha1 on nothing", SignSHA1(nil, key), ErrNoDigestSection},
		{"md5 16-byte key", SignMD5(md5Pkt.AppendEncode(nil), make([]byte, 16)), nil},
		{"sha1 20-byte key", SignSHA1(sha1Pkt.AppendEncode(nil), make([]byte, 20)), nil},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) || (tc.want == nil && tc.err != nil) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

// TestGopacket cross-checks the codec against gopacket's independent BFD
// layer in both directions.
func TestGopacket(t *testing.T) {
	for _, s := range authSamples() {
		t.Run(s.name, func(t *testing.T) {
			b, want := encoded(s.p)

			// ours → gopacket
			var g layers.BFD
			if err := g.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
				t.Fatal(err)
			}
			if diff := compareGopacket(&want, &g, s.p.Auth.Type <= AuthMeticulousKeyedSHA1); diff != "" {
				t.Fatalf("gopacket decoded our packet differently: %s", diff)
			}

			// gopacket → ours; gopacket cannot encode the Null-Authentication
			// layout, which it does not know.
			if s.p.Auth.Type > AuthMeticulousKeyedSHA1 {
				return
			}
			buf := gopacket.NewSerializeBuffer()
			if err := g.SerializeTo(buf, gopacket.SerializeOptions{}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), b) {
				t.Errorf("gopacket bytes % x\n         ours % x", buf.Bytes(), b)
			}
			var got Packet
			if err := got.Decode(buf.Bytes(), s.opts); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func compareGopacket(p *Packet, g *layers.BFD, withAuthData bool) string {
	type pair struct {
		name      string
		ours, gpk any
	}
	pairs := []pair{
		{"Version", p.Version, uint8(g.Version)},
		{"Diag", uint8(p.Diag), uint8(g.Diagnostic)},
		{"State", uint8(p.State), uint8(g.State)},
		{"Poll", p.Poll, g.Poll},
		{"Final", p.Final, g.Final},
		{"C", p.ControlPlaneIndependent, g.ControlPlaneIndependent},
		{"A", p.AuthPresent, g.AuthPresent},
		{"Demand", p.Demand, g.Demand},
		{"Multipoint", p.Multipoint, g.Multipoint},
		{"DetectMult", p.DetectMult, uint8(g.DetectMultiplier)},
		{"MyDisc", p.MyDiscriminator, uint32(g.MyDiscriminator)},
		{"YourDisc", p.YourDiscriminator, uint32(g.YourDiscriminator)},
		{"DesiredTx", p.DesiredMinTxInterval, uint32(g.DesiredMinTxInterval)},
		{"RequiredRx", p.RequiredMinRxInterval, uint32(g.RequiredMinRxInterval)},
		{"RequiredEchoRx", p.RequiredMinEchoRxInterval, uint32(g.RequiredMinEchoRxInterval)},
		{"Length", int(p.Length), len(g.Contents)}, // Length() only knows the RFC 5880 auth types
	}
	if p.AuthPresent {
		if g.AuthHeader == nil {
			return "no gopacket auth header"
		}
		a := &p.Auth
		pairs = append(pairs,
			pair{"AuthType", uint8(a.Type), uint8(g.AuthHeader.AuthType)},
			pair{"KeyID", a.KeyID, uint8(g.AuthHeader.KeyID)})
		if withAuthData {
			data := a.DigestBytes()
			if a.Type == AuthSimplePassword {
				data = a.Password()
			} else {
				pairs = append(pairs, pair{"Seq", a.Seq, uint32(g.AuthHeader.SequenceNumber)})
			}
			pairs = append(pairs, pair{"AuthData", fmt.Sprintf("% x", data), fmt.Sprintf("% x", []byte(g.AuthHeader.Data))})
		}
	}
	var diff string
	for _, pr := range pairs {
		if pr.ours != pr.gpk {
			diff += fmt.Sprintf("%s: ours %v, gopacket %v; ", pr.name, pr.ours, pr.gpk)
		}
	}
	return diff
}

func TestZeroAllocs(t *testing.T) {
	for _, s := range authSamples() {
		b := s.p.AppendEncode(nil)
		var p Packet
		if n := testing.AllocsPerRun(100, func() {
			if err := p.Decode(b, s.opts); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: Decode allocates %v times", s.name, n)
		}
		dst := make([]byte, 0, MaxLen)
		if n := testing.AllocsPerRun(100, func() { dst = s.p.AppendEncode(dst[:0]) }); n != 0 {
			t.Errorf("%s: AppendEncode allocates %v times", s.name, n)
		}
	}
	bad := make([]byte, MandatoryLen)
	var p Packet
	if n := testing.AllocsPerRun(100, func() { _ = p.Decode(bad, DecodeOptions{}) }); n != 0 {
		t.Errorf("rejecting a packet allocates %v times", n)
	}
	key := []byte("key")
	for _, d := range digests {
		q := basePacket()
		q.Auth = Auth{Type: d.types[0]}
		pkt := q.AppendEncode(nil)
		if n := testing.AllocsPerRun(100, func() {
			if err := d.sign(pkt, key); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s sign allocates %v times", d.name, n)
		}
		if n := testing.AllocsPerRun(100, func() {
			if !d.verify(pkt, key) {
				t.Fatal("verify failed")
			}
		}); n != 0 {
			t.Errorf("%s verify allocates %v times", d.name, n)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, s := range authSamples() {
		switch s.name {
		case "none", "password-16", "meticulous-keyed-sha1", "null-loss-and-delay":
		default:
			continue
		}
		pkt := s.p.AppendEncode(nil)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			var p Packet
			for b.Loop() {
				if err := p.Decode(pkt, s.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, s := range authSamples() {
		switch s.name {
		case "none", "meticulous-keyed-sha1", "null-loss-and-delay":
		default:
			continue
		}
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]byte, 0, MaxLen)
			for b.Loop() {
				dst = s.p.AppendEncode(dst[:0])
			}
		})
	}
}

func BenchmarkVerifySHA1(b *testing.B) {
	p := basePacket()
	p.Auth = Auth{Type: AuthMeticulousKeyedSHA1, KeyID: 1, Seq: 1}
	pkt := p.AppendEncode(nil)
	key := []byte("0123456789abcdefghij")
	if err := SignSHA1(pkt, key); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !VerifySHA1(pkt, key) {
			b.Fatal("verify failed")
		}
	}
}
