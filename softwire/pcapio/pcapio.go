// Package pcapio reads and writes classic pcap files (the libpcap format,
// not pcapng). The writer produces the canonical form the lwAFTR check
// compares byte for byte: little-endian, microsecond timestamps, version
// 2.4, snaplen 65535, linktype 1 (Ethernet) and every timestamp zero.
package pcapio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The magic numbers of the classic format: microsecond and nanosecond
// timestamps, as written by the producer's byte order.
const (
	magicMicro = 0xa1b2c3d4
	magicNano  = 0xa1b23c4d
)

// LinkTypeEthernet is DLT_EN10MB.
const LinkTypeEthernet = 1

// MaxSnapLen bounds a record so a corrupt length cannot make us allocate
// gigabytes.
const MaxSnapLen = 262144

// Reader yields the records of a pcap stream.
type Reader struct {
	r        *bufio.Reader
	order    binary.ByteOrder
	LinkType uint32
	SnapLen  uint32
	buf      []byte
	hdr      [16]byte
	records  int
}

// NewReader reads the file header.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var h [24]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, fmt.Errorf("pcap file header: %w", err)
	}
	rd := &Reader{r: br}
	switch {
	case binary.LittleEndian.Uint32(h[0:]) == magicMicro || binary.LittleEndian.Uint32(h[0:]) == magicNano:
		rd.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[0:]) == magicMicro || binary.BigEndian.Uint32(h[0:]) == magicNano:
		rd.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("pcap file header: bad magic %x (pcapng is not supported)", h[0:4])
	}
	if major := rd.order.Uint16(h[4:]); major != 2 {
		return nil, fmt.Errorf("pcap file header: unsupported version %d", major)
	}
	rd.SnapLen = rd.order.Uint32(h[16:])
	rd.LinkType = rd.order.Uint32(h[20:])
	rd.buf = make([]byte, 0, 2048)
	return rd, nil
}

// Next returns the next record's captured bytes. The slice is reused by the
// following call. It returns io.EOF after the last record.
func (rd *Reader) Next() ([]byte, error) {
	if _, err := io.ReadFull(rd.r, rd.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("pcap record %d header: %w", rd.records+1, err)
	}
	n := rd.order.Uint32(rd.hdr[8:])
	if n > MaxSnapLen {
		return nil, fmt.Errorf("pcap record %d: captured length %d exceeds %d", rd.records+1, n, MaxSnapLen)
	}
	if cap(rd.buf) < int(n) {
		rd.buf = make([]byte, n)
	}
	rd.buf = rd.buf[:n]
	if _, err := io.ReadFull(rd.r, rd.buf); err != nil {
		return nil, fmt.Errorf("pcap record %d data: %w", rd.records+1, err)
	}
	rd.records++
	return rd.buf, nil
}

// Writer writes records in the canonical form described in the package
// comment.
type Writer struct {
	w   *bufio.Writer
	hdr [16]byte
}

// NewWriter writes the file header.
func NewWriter(w io.Writer) (*Writer, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], magicMicro)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], LinkTypeEthernet)
	if _, err := bw.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap file header: %w", err)
	}
	return &Writer{w: bw}, nil
}

// Write appends one record with a zero timestamp.
func (pw *Writer) Write(frame []byte) error {
	binary.LittleEndian.PutUint32(pw.hdr[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(pw.hdr[12:], uint32(len(frame)))
	if _, err := pw.w.Write(pw.hdr[:]); err != nil {
		return fmt.Errorf("pcap record: %w", err)
	}
	if _, err := pw.w.Write(frame); err != nil {
		return fmt.Errorf("pcap record: %w", err)
	}
	return nil
}

// Flush writes buffered records out.
func (pw *Writer) Flush() error { return pw.w.Flush() }
