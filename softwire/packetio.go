package softwire

import (
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/pktio"
)

// OpenDriverLink opens a device's link with the pktio driver the
// configuration names ("af_packet" or "af_xdp"); the port falls back to
// AF_PACKET when AF_XDP cannot be used, and says so.
type OpenDriverLink func(device, driver string) (Link, error)

// packetIODrivers returns the pktio driver configured for each side
// (external, internal) under packet-io/driver.
func packetIODrivers(lw *gen.WirebeatSoftwire_Softwire_Lwaftr) [2]string {
	name := func(d gen.E_WirebeatSoftwire_Softwire_Lwaftr_ExternalInterface_PacketIo_Driver) string {
		if d == gen.WirebeatSoftwire_Softwire_Lwaftr_ExternalInterface_PacketIo_Driver_af_xdp {
			return pktio.DriverAFXDP
		}
		return pktio.DriverAFPacket
	}
	return [2]string{name(lw.GetExternalInterface().GetPacketIo().GetDriver()), name(lw.GetInternalInterface().GetPacketIo().GetDriver())}
}

// fillPacketIO renders each side's packet-io/state: the driver in use,
// why it is not the configured one, and the ports' counters summed over
// the workers.
func fillPacketIO(lw *gen.WirebeatSoftwire_Softwire_Lwaftr, snap *snapshot) {
	v := func(x uint64) *uint64 { return &x }
	type state struct {
		ActiveDriver, FallbackReason                     **string
		RxPackets, TxPackets, RxDrops, TxDrops, RingFull **uint64
	}
	ext := lw.GetOrCreateExternalInterface().GetOrCreatePacketIo().GetOrCreateState()
	in := lw.GetOrCreateInternalInterface().GetOrCreatePacketIo().GetOrCreateState()
	for i, st := range []state{
		{&ext.ActiveDriver, &ext.FallbackReason, &ext.RxPackets, &ext.TxPackets, &ext.RxDrops, &ext.TxDrops, &ext.RingFull},
		{&in.ActiveDriver, &in.FallbackReason, &in.RxPackets, &in.TxPackets, &in.RxDrops, &in.TxDrops, &in.RingFull},
	} {
		if snap.Drivers[i] == "" {
			continue
		}
		d := snap.Drivers[i]
		*st.ActiveDriver = &d
		if f := snap.Fallbacks[i]; f != "" {
			*st.FallbackReason = &f
		}
		p := snap.Ports[i]
		*st.RxPackets, *st.TxPackets = v(p.RxFrames), v(p.TxFrames)
		*st.RxDrops, *st.TxDrops, *st.RingFull = v(p.RxDrops), v(p.TxDrops), v(p.RxRingFull+p.TxRingFull)
	}
}
