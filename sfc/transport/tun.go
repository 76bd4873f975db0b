package transport

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TUN is a layer-3 interface the element creates: what the host routes
// into it is read by the data plane, and what the data plane writes is
// received by the host as if it had arrived on the interface, then routed.
type TUN struct {
	f    *os.File
	name string
}

// OpenTUN creates (or attaches to) the TUN interface name and sets it up.
func OpenTUN(name string) (*TUN, error) {
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tun %q: bad interface name", name)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("tun %s: %w", name, err)
	}
	var req [unix.IFNAMSIZ + 64]byte
	copy(req[:], name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("tun %s: TUNSETIFF: %w", name, e)
	}
	t := &TUN{f: os.NewFile(uintptr(fd), "/dev/net/tun"), name: name}
	if err := setUp(name); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func setUp(name string) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tun %s: get flags: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tun %s: set up: %w", name, err)
	}
	return nil
}

// Name is the interface name.
func (t *TUN) Name() string { return t.name }

// Write sends one IP packet to the host.
func (t *TUN) Write(pkt []byte) error {
	_, err := t.f.Write(pkt)
	return err
}

// Run reads packets until Close and hands each to fn in a buffer with
// room before it (headroom octets).
func (t *TUN) Run(headroom int, fn func(buf []byte, off int)) error {
	buf := make([]byte, headroom+65536)
	for {
		n, err := t.f.Read(buf[headroom:])
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
		fn(buf[:headroom+n], headroom)
	}
}

// Close removes the interface (it lives as long as its descriptor).
func (t *TUN) Close() error { return t.f.Close() }
