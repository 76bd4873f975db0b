package transport

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/sfc/nsh"
)

func TestGPE(t *testing.T) {
	b := make([]byte, GPELen)
	PutGPE(b, 0x123456)
	if n, err := ParseGPE(b); err != nil || n != GPELen || b[0] != 0x0c || b[3] != 4 || b[4] != 0x12 || b[6] != 0x56 {
		t.Fatalf("%x %v", b, err)
	}
	for _, c := range []struct {
		b    []byte
		want error
	}{
		{b[:7], ErrGPEShort},
		{[]byte{0x2c, 0, 0, 4, 0, 0, 0, 0}, ErrGPEVersion},
		{[]byte{0x08, 0, 0, 4, 0, 0, 0, 0}, ErrGPEProto},
		{[]byte{0x0c, 0, 0, 1, 0, 0, 0, 0}, ErrGPEProto},
	} {
		if _, err := ParseGPE(c.b); err != c.want {
			t.Errorf("%x: %v, want %v", c.b, err, c.want)
		}
	}
}

func TestUDPRoundTrip(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	port := uint16(rx.LocalAddr().(*net.UDPAddr).Port)
	u, err := ListenUDP(UDPConfig{Local: netip.MustParseAddr("127.0.0.2"), Port: port, GPE: true})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	h := nsh.Header{TTL: 63, MDType: 1, NextProtocol: nsh.ProtoIPv4, SPI: 7, SI: 255}
	pkt := make([]byte, nsh.MD1Len)
	_, _ = h.Encode(pkt)
	u.SendNSH(netip.MustParseAddr("127.0.0.1"), 46, pkt)
	_ = rx.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 256)
	n, err := rx.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	off, err := ParseGPE(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	var d nsh.Header
	if _, err := d.Decode(buf[off:n]); err != nil || d.SPI != 7 {
		t.Fatalf("%+v %v", d, err)
	}
}

func FuzzParseGPE(f *testing.F) {
	f.Add([]byte{0x0c, 0, 0, 4, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := ParseGPE(b); err == nil && n > len(b) {
			t.Fatal("offset past the packet")
		}
	})
}
