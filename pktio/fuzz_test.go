package pktio

import "testing"

// FuzzOffload feeds a virtio_net_hdr and a frame, as a peer controls
// them, through Prepare and the Segmenter: nothing may panic, the work is
// bounded, and when segmentation succeeds the segments carry exactly the
// super-frame's payload, each no bigger than its headers plus gso_size,
// each with a transport checksum that verifies.
func FuzzOffload(f *testing.F) {
	super, l4 := tcpStack{outer6: true, id: 1, seq: 9}.frame(f, pattern(3000))
	var h [VnetHdrLen]byte
	VnetHdr{Flags: vnetNeedsCsum, GSOType: GSOTCPv4, GSOSize: 1400, CsumStart: uint16(l4), CsumOffset: 16}.Put(h[:])
	f.Add(append(h[:], super...))
	VnetHdr{Flags: vnetNeedsCsum, CsumStart: uint16(l4), CsumOffset: 16}.Put(h[:])
	f.Add(append(h[:], super[:200]...))
	f.Add([]byte{1, 5, 0, 0, 10, 0, 34, 0, 6, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		vh, err := ParseVnetHdr(data)
		if err != nil {
			return
		}
		frame := append([]byte(nil), data[VnetHdrLen:]...)
		var s Segmenter
		act, err := Prepare(frame, vh, &s)
		if err != nil || act != Segmenting {
			return
		}
		lay := s.lay
		var payload []byte
		n := 0
		for s.Active() {
			if n++; n > MaxSegments+1 {
				t.Fatalf("more than %d segments", MaxSegments)
			}
			dst := make([]byte, s.NextLen())
			m, err := s.Next(dst)
			if err != nil {
				t.Fatal(err)
			}
			seg := dst[:m]
			if m > lay.hdrEnd+int(vh.GSOSize) {
				t.Fatalf("segment of %d bytes, headers %d + gso_size %d", m, lay.hdrEnd, vh.GSOSize)
			}
			inner := lay.ips[lay.nips-1]
			l4 := seg[lay.l4:]
			if c := fold(sum16(pseudoSum(seg[inner.off:], inner.v6, l4, lay.tcp), l4)); c != 0xffff {
				t.Fatalf("segment %d: transport checksum does not verify (%#x)", n, c)
			}
			payload = append(payload, seg[lay.hdrEnd:]...)
		}
		if string(payload) != string(frame[lay.hdrEnd:]) {
			t.Fatalf("segments carry %d payload bytes, super-frame %d", len(payload), len(frame)-lay.hdrEnd)
		}
	})
}

// FuzzRepairPartial: any frame; a repair happens only to a frame whose
// checksum did not verify, and afterwards it does.
func FuzzRepairPartial(f *testing.F) {
	st := tcpStack{outer6: true, id: 1, seq: 2}
	good, l4 := st.frame(f, pattern(100))
	f.Add(good)
	partial := append([]byte(nil), good...)
	makePartial(partial, l4, 16, 54, false, true)
	f.Add(partial)
	f.Fuzz(func(t *testing.T, frame []byte) {
		before := append([]byte(nil), frame...)
		if !RepairPartial(frame) {
			if string(before) != string(frame) {
				t.Fatal("frame changed without a repair")
			}
			return
		}
		if RepairPartial(frame) {
			t.Fatal("repaired twice")
		}
	})
}
