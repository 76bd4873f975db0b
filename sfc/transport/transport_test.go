package transport

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	f, err := rx.File()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(int(f.Fd()), unix.IPPROTO_IP, unix.IP_RECVTOS, 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	u.SendNSH(netip.MustParseAddr("127.0.0.1"), 46, pkt)
	u.SendNSH(netip.MustParseAddr("127.0.0.1"), 10, pkt)
	u.Flush()
	_ = rx.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf, oob := make([]byte, 256), make([]byte, 64)
	var tos []int
	var n int
	for range 2 {
		var on int
		n, on, _, _, err = rx.ReadMsgUDP(buf, oob)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:on])
		if err != nil || len(msgs) != 1 || msgs[0].Header.Type != unix.IP_TOS {
			t.Fatalf("no IP_TOS: %v %v", msgs, err)
		}
		tos = append(tos, int(msgs[0].Data[0]))
	}
	if tos[0] != 46<<2 || tos[1] != 10<<2 {
		t.Fatalf("outer TOS %v, want DSCP 46 then 10 (one sendmmsg, per-message TOS)", tos)
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
