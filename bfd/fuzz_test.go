package bfd

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary payloads, under an arbitrary Null-Authentication
// type number, to Decode. Properties: no panic; a rejection is one of the
// sentinels and leaves the Packet alone; an accepted packet re-encodes to
// bytes that decode to the same Packet (Length aside: AppendEncode drops the
// ignored bytes a received Length may cover) and re-encode identically. The
// digest helpers get the same bytes, since they too read untrusted packets.
func FuzzDecode(f *testing.F) {
	for _, s := range authSamples() {
		f.Add(s.p.AppendEncode(nil), uint8(s.opts.NullAuthType))
	}
	base := basePacket()
	long := base.AppendEncode(nil)
	long[3] = 30
	f.Add(append(long, 1, 2, 3, 4, 5, 6, 7), uint8(0))

	sentinels := []error{ErrShort, ErrBadVersion, ErrBadLength, ErrTruncated, ErrZeroDetectMult,
		ErrMultipoint, ErrZeroMyDiscriminator, ErrZeroYourDiscriminator, ErrUnknownAuthType,
		ErrBadAuthLength, ErrAuthTruncated, ErrBadNullAuthKeyID}

	f.Fuzz(func(t *testing.T, data []byte, nullType uint8) {
		opts := DecodeOptions{NullAuthType: AuthType(nullType)}
		orig := bytes.Clone(data)
		untouched := Packet{MyDiscriminator: 0xfeedface}
		p := untouched
		err := p.Decode(data, opts)
		if !bytes.Equal(data, orig) {
			t.Fatal("Decode modified its input")
		}

		// Whatever Decode thinks, the digest helpers must not panic, must
		// leave the input alone when verifying, and must agree with
		// themselves after signing.
		key := []byte("fuzz-key")
		VerifyMD5(data, key)
		VerifySHA1(data, key)
		if !bytes.Equal(data, orig) {
			t.Fatal("Verify modified its input")
		}
		for _, d := range digests {
			signed := bytes.Clone(data)
			if d.sign(signed, key) == nil && !d.verify(signed, key) {
				t.Fatalf("%s: signed packet does not verify", d.name)
			}
		}

		if err != nil {
			known := false
			for _, s := range sentinels {
				known = known || err == s
			}
			if !known {
				t.Fatalf("Decode returned a non-sentinel error %v", err)
			}
			if p != untouched {
				t.Fatalf("Decode changed p on error %v", err)
			}
			return
		}

		enc := p.AppendEncode(nil)
		if len(enc) > int(p.Length) {
			t.Fatalf("re-encoding grew the packet from %d to %d bytes", p.Length, len(enc))
		}
		var q Packet
		if err := q.Decode(enc, opts); err != nil {
			t.Fatalf("re-encoded packet rejected: %v\n in % x\nout % x", err, data, enc)
		}
		want := p
		want.Length = uint8(len(enc))
		if q != want {
			t.Fatalf("round trip differs\n got %+v\nwant %+v", q, want)
		}
		if enc2 := q.AppendEncode(nil); !bytes.Equal(enc2, enc) {
			t.Fatalf("second encoding differs\n% x\n% x", enc, enc2)
		}
		// The wire bytes AppendEncode writes are those received, except the
		// Length byte and the reserved bytes that Decode ignores.
		if !bytes.Equal(enc[4:MandatoryLen], data[4:MandatoryLen]) || !bytes.Equal(enc[:3], data[:3]) {
			t.Fatalf("mandatory section changed\n in % x\nout % x", data[:MandatoryLen], enc[:MandatoryLen])
		}
		if p.AuthPresent {
			authEnd := len(enc)
			ignored := -1
			if p.Auth.Type != AuthSimplePassword {
				ignored = MandatoryLen + 3 // Reserved
			}
			for i := MandatoryLen; i < authEnd; i++ {
				if i != ignored && enc[i] != data[i] {
					t.Fatalf("auth byte %d changed: in % x out % x", i, data[:authEnd], enc)
				}
			}
		}
	})
}
