package bindstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wirebeat/wirebeat/softwire/bindingtable"
)

// DefaultPrefix is where bindings live unless configured otherwise
// (DESIGN.md, "lwAFTR bindings in etcd").
const DefaultPrefix = "/wirebeat/lwaftr/bindings/"

// MaxValueBytes bounds the value of one key: an entry is ~200 bytes, so
// anything much larger is not a binding and is refused before parsing.
const MaxValueBytes = 4096

// Binding is one binding-table/softwire entry as stored in etcd.
type Binding = bindingtable.Softwire

// Key returns the etcd key of (ipv4, psid) under prefix:
// PREFIX<dotted ipv4>/<decimal psid>.
func Key(prefix string, ipv4 uint32, psid uint16) string {
	var b strings.Builder
	b.Grow(len(prefix) + 21)
	b.WriteString(prefix)
	b.WriteString(fmtIPv4(ipv4))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(int(psid)))
	return b.String()
}

// AddressPrefix returns the key prefix of every softwire of ipv4.
func AddressPrefix(prefix string, ipv4 uint32) string {
	return prefix + fmtIPv4(ipv4) + "/"
}

// ParseKey splits a key under prefix into its IPv4 address and PSID.
func ParseKey(prefix, key string) (uint32, uint16, error) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, 0, fmt.Errorf("key %q is not under %q", key, prefix)
	}
	a, p, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, fmt.Errorf("key %q: want %s<ipv4>/<psid>", key, prefix)
	}
	ip, err := netip.ParseAddr(a)
	if err != nil || !ip.Is4() {
		return 0, 0, fmt.Errorf("key %q: %q is not an IPv4 address", key, a)
	}
	psid, err := strconv.ParseUint(p, 10, 16)
	if err != nil || strconv.FormatUint(psid, 10) != p {
		return 0, 0, fmt.Errorf("key %q: psid %q is not a decimal number 0..65535", key, p)
	}
	return ipv4Of(ip), uint16(psid), nil
}

// wire is the RFC 7951 JSON of a binding-table/softwire entry. Numbers
// are decoded into wide types so out-of-range values get a precise error.
type wire struct {
	IPv4    *string `json:"ipv4"`
	PSID    *int64  `json:"psid"`
	B4      *string `json:"b4-ipv6"`
	BR      *string `json:"br-address"`
	PortSet *wirePS `json:"port-set"`
}

type wirePS struct {
	Offset   *int64 `json:"psid-offset,omitempty"`
	Length   *int64 `json:"psid-length"`
	Reserved *int64 `json:"reserved-ports-bit-count,omitempty"`
}

// Encode returns the RFC 7951 JSON of b.
func Encode(b Binding) []byte {
	ip := fmtIPv4(b.IPv4)
	b4 := netip.AddrFrom16(b.B4).String()
	br := netip.AddrFrom16(b.BR).String()
	psid := int64(b.PSID)
	off, l := int64(b.PortSet.Offset), int64(b.PortSet.Length)
	w := wire{IPv4: &ip, PSID: &psid, B4: &b4, BR: &br, PortSet: &wirePS{Offset: &off, Length: &l}}
	out, _ := json.Marshal(w) // cannot fail: only strings and numbers
	return out
}

// ErrMalformed wraps every reason a stored value is not a binding.
var ErrMalformed = errors.New("malformed binding")

// Decode parses the value stored under (ipv4, psid) (from its key) and
// checks it: members known and present, values in range, the key's address
// and PSID equal to the value's, the PSID within psid-length.
func Decode(ipv4 uint32, psid uint16, v []byte) (Binding, error) {
	var b Binding
	if len(v) > MaxValueBytes {
		return b, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(v), MaxValueBytes)
	}
	var w wire
	d := json.NewDecoder(bytes.NewReader(v))
	d.DisallowUnknownFields()
	if err := d.Decode(&w); err != nil {
		return b, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if d.More() {
		return b, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	switch {
	case w.IPv4 == nil:
		return b, fmt.Errorf("%w: ipv4 missing", ErrMalformed)
	case w.PSID == nil:
		return b, fmt.Errorf("%w: psid missing", ErrMalformed)
	case w.B4 == nil:
		return b, fmt.Errorf("%w: b4-ipv6 missing", ErrMalformed)
	case w.BR == nil:
		return b, fmt.Errorf("%w: br-address missing", ErrMalformed)
	case w.PortSet == nil || w.PortSet.Length == nil:
		return b, fmt.Errorf("%w: port-set/psid-length missing", ErrMalformed)
	}
	ip, err := netip.ParseAddr(*w.IPv4)
	if err != nil || !ip.Is4() {
		return b, fmt.Errorf("%w: ipv4 %q is not an IPv4 address", ErrMalformed, *w.IPv4)
	}
	b.IPv4 = ipv4Of(ip)
	if *w.PSID < 0 || *w.PSID > 65535 {
		return b, fmt.Errorf("%w: psid %d out of range 0..65535", ErrMalformed, *w.PSID)
	}
	b.PSID = uint16(*w.PSID)
	if b.IPv4 != ipv4 || b.PSID != psid {
		return b, fmt.Errorf("%w: value is for %s/%d, key for %s/%d", ErrMalformed, fmtIPv4(b.IPv4), b.PSID, fmtIPv4(ipv4), psid)
	}
	for _, f := range []struct {
		s   string
		dst *[16]byte
		n   string
	}{{*w.B4, &b.B4, "b4-ipv6"}, {*w.BR, &b.BR, "br-address"}} {
		a, err := netip.ParseAddr(f.s)
		if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
			return b, fmt.Errorf("%w: %s %q is not an IPv6 address", ErrMalformed, f.n, f.s)
		}
		*f.dst = a.As16()
	}
	bits := func(p *int64, name string) (uint8, error) {
		if p == nil {
			return 0, nil
		}
		if *p < 0 || *p > 16 {
			return 0, fmt.Errorf("%w: port-set/%s %d out of range 0..16", ErrMalformed, name, *p)
		}
		return uint8(*p), nil
	}
	off, err := bits(w.PortSet.Offset, "psid-offset")
	if err != nil {
		return b, err
	}
	res, err := bits(w.PortSet.Reserved, "reserved-ports-bit-count")
	if err != nil {
		return b, err
	}
	l, err := bits(w.PortSet.Length, "psid-length")
	if err != nil {
		return b, err
	}
	// The same rule as the configured binding table: reserved-ports-bit-
	// count is Snabb's name for the offset.
	if off == 0 {
		off = res
	} else if res != 0 && res != off {
		return b, fmt.Errorf("%w: port-set: psid-offset %d and reserved-ports-bit-count %d differ", ErrMalformed, off, res)
	}
	b.PortSet = bindingtable.PortSet{Offset: off, Length: l}
	if err := b.PortSet.Valid(); err != nil {
		return b, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if l < 16 && b.PSID>>l != 0 {
		return b, fmt.Errorf("%w: psid %d does not fit in psid-length %d", ErrMalformed, b.PSID, l)
	}
	return b, nil
}

func ipv4Of(a netip.Addr) uint32 {
	x := a.As4()
	return uint32(x[0])<<24 | uint32(x[1])<<16 | uint32(x[2])<<8 | uint32(x[3])
}

func fmtIPv4(a uint32) string {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).String()
}
