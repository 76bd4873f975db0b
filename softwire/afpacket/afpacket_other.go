//go:build !linux

package afpacket

import "errors"

// ErrClosed is returned by ReadBatch after Close.
var ErrClosed = errors.New("afpacket: link closed")

// Link is unavailable off Linux.
type Link struct{}

// Open fails: AF_PACKET is Linux only.
func Open(dev string) (*Link, error) { return nil, errors.New("afpacket: only on Linux") }

// ReadBatch is never reached.
func (l *Link) ReadBatch(bufs [][]byte, lens []int) (int, error) { return 0, ErrClosed }

// Write is never reached.
func (l *Link) Write(frame []byte) error { return ErrClosed }

// Close does nothing.
func (l *Link) Close() error { return nil }
