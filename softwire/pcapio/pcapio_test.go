package pcapio

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{{1, 2, 3}, bytes.Repeat([]byte{9}, 1500), {}}
	for _, f := range frames {
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	hdr := buf.Bytes()[:24]
	want := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	if !bytes.Equal(hdr, want) {
		t.Fatalf("header % x, want % x", hdr, want)
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		got, err := r.Next()
		if err != nil || !bytes.Equal(got, f) {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after last record: %v", err)
	}
}

func TestBigEndianAndErrors(t *testing.T) {
	var h [24]byte
	binary.BigEndian.PutUint32(h[0:], magicMicro)
	binary.BigEndian.PutUint16(h[4:], 2)
	binary.BigEndian.PutUint32(h[20:], 1)
	rec := make([]byte, 16)
	binary.BigEndian.PutUint32(rec[8:], 2)
	src := append(append(h[:], rec...), 7, 8)
	r, err := NewReader(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := r.Next(); err != nil || !bytes.Equal(f, []byte{7, 8}) {
		t.Fatalf("big-endian record: %v %v", f, err)
	}
	for _, c := range []struct {
		src  []byte
		want string
	}{
		{[]byte{1, 2}, "file header"},
		{make([]byte, 24), "bad magic"},
		{append(append(h[:], rec...), 7), "record 1 data"},
		{append(h[:], 1, 2, 3), "record 1 header"},
	} {
		r, err := NewReader(bytes.NewReader(c.src))
		if err == nil {
			_, err = r.Next()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	huge := append([]byte(nil), h[:]...)
	hr := make([]byte, 16)
	binary.BigEndian.PutUint32(hr[8:], MaxSnapLen+1)
	r, _ = NewReader(bytes.NewReader(append(huge, hr...)))
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("oversized record: %v", err)
	}
}

// FuzzReader reads arbitrary bytes as a pcap stream.
func FuzzReader(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf)
	_ = w.Write([]byte{1, 2, 3})
	_ = w.Flush()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for range 1000 {
			if _, err := r.Next(); err != nil {
				return
			}
		}
	})
}
