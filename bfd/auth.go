package bfd

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"errors"
)

// Errors of the signing helpers.
var (
	ErrBadKeyLength    = errors.New("bfd: key or password length out of range (1..16, 1..20 for SHA1)")
	ErrNoDigestSection = errors.New("bfd: packet has no well-formed authentication section of the requested digest type")
)

// digestSection checks that pkt is a packet whose authentication section is
// of the wanted digest family with the Auth Len that family requires, and
// returns the packet's Length. Signing and verifying only need the layout;
// the other reception checks are Decode's.
func digestSection(pkt []byte, isFamily func(AuthType) bool, authLen int) (length int, ok bool) {
	if len(pkt) < MandatoryLen {
		return 0, false
	}
	length = int(pkt[3])
	if length > len(pkt) || length < MandatoryLen+authLen || pkt[1]&flagAuth == 0 {
		return 0, false
	}
	if !isFamily(AuthType(pkt[MandatoryLen])) || int(pkt[MandatoryLen+1]) != authLen {
		return 0, false
	}
	return length, true
}

// SignMD5 writes the keyed MD5 digest (RFC 5880 section 6.7.3) of pkt, an
// encoded packet whose Auth Type is keyed or meticulous keyed MD5, into its
// digest field: MD5 over the first Length bytes with the key, zero-padded to
// 16 bytes, in that field. It does not allocate.
func SignMD5(pkt, key []byte) error {
	if len(key) == 0 || len(key) > md5.Size {
		return ErrBadKeyLength
	}
	length, ok := digestSection(pkt, AuthType.isMD5, md5AuthLen)
	if !ok {
		return ErrNoDigestSection
	}
	field := pkt[digestOffset : digestOffset+md5.Size]
	putPaddedKey(field, key)
	sum := md5.Sum(pkt[:length])
	copy(field, sum[:])
	return nil
}

// VerifyMD5 reports whether pkt, a received packet, carries a keyed MD5 or
// meticulous keyed MD5 section whose digest matches key. pkt is not modified;
// the comparison is constant-time; it does not allocate. Sequence number
// checks are the session's.
func VerifyMD5(pkt, key []byte) bool {
	if len(key) == 0 || len(key) > md5.Size {
		return false
	}
	length, ok := digestSection(pkt, AuthType.isMD5, md5AuthLen)
	if !ok {
		return false
	}
	// The digest is defined over the packet with the key in the digest
	// field. A copy on the stack lets pkt stay read-only (it may be shared)
	// without allocating; Length is one byte, so 255 always suffices.
	var buf [255]byte
	n := copy(buf[:], pkt[:length])
	putPaddedKey(buf[digestOffset:digestOffset+md5.Size], key)
	sum := md5.Sum(buf[:n])
	return subtle.ConstantTimeCompare(sum[:], pkt[digestOffset:digestOffset+md5.Size]) == 1
}

// SignSHA1 is SignMD5 for keyed and meticulous keyed SHA1 (RFC 5880 section
// 6.7.4), with the key padded to 20 bytes.
func SignSHA1(pkt, key []byte) error {
	if len(key) == 0 || len(key) > sha1.Size {
		return ErrBadKeyLength
	}
	length, ok := digestSection(pkt, AuthType.isSHA1, sha1AuthLen)
	if !ok {
		return ErrNoDigestSection
	}
	field := pkt[digestOffset : digestOffset+sha1.Size]
	putPaddedKey(field, key)
	sum := sha1.Sum(pkt[:length])
	copy(field, sum[:])
	return nil
}

// VerifySHA1 is VerifyMD5 for keyed and meticulous keyed SHA1.
func VerifySHA1(pkt, key []byte) bool {
	if len(key) == 0 || len(key) > sha1.Size {
		return false
	}
	length, ok := digestSection(pkt, AuthType.isSHA1, sha1AuthLen)
	if !ok {
		return false
	}
	var buf [255]byte
	n := copy(buf[:], pkt[:length])
	putPaddedKey(buf[digestOffset:digestOffset+sha1.Size], key)
	sum := sha1.Sum(buf[:n])
	return subtle.ConstantTimeCompare(sum[:], pkt[digestOffset:digestOffset+sha1.Size]) == 1
}

// PasswordMatches reports whether a carries the simple password pw, comparing
// in constant time for a given length (RFC 5880 section 6.7.2).
func (a *Auth) PasswordMatches(pw []byte) bool {
	return a.Type == AuthSimplePassword && len(pw) > 0 &&
		subtle.ConstantTimeCompare(a.Password(), pw) == 1
}

func putPaddedKey(field, key []byte) {
	n := copy(field, key)
	clear(field[n:])
}
