package softwire

import (
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/pktio"
	"github.com/wirebeat/wirebeat/schema"
)

// OpenDriverLink opens worker w's link (of n workers) on a device with
// the pktio driver the configuration names ("af_packet" or "af_xdp");
// the port falls back to AF_PACKET when AF_XDP cannot be used, and says
// so. With n > 1 the n links of a device share its traffic: members of
// one PACKET_FANOUT group, or one AF_XDP queue each.
type OpenDriverLink func(device, driver string, w, n int) (Link, error)

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

// openWorkerLinks opens the links of every worker (lwaftr/workers) on
// the devices with their configured drivers; on failure nothing stays
// open.
func (s *LwaftrSubsystem) openWorkerLinks(parts *engineParts, lw *gen.WirebeatSoftwire_Softwire_Lwaftr, devs, sides [2]string) error {
	drivers := packetIODrivers(lw)
	if parts.cfg.OnAStick {
		drivers[0] = drivers[1]
	}
	n := int(lw.GetWorkers())
	if n < 1 || s.openDriver == nil {
		n = 1 // a plain Open (tests' pipes) has one link per device
	}
	var sets [][2]Link
	closeAll := func(extra []Link) {
		for _, l := range extra {
			l.Close()
		}
		for _, ls := range sets {
			ls[0].Close()
			if !parts.cfg.OnAStick {
				ls[1].Close()
			}
		}
	}
	for w := range n {
		var links [2]Link
		for i, d := range devs {
			if i == 1 && parts.cfg.OnAStick {
				links[1] = links[0]
				break
			}
			var err error
			if s.openDriver != nil {
				links[i], err = s.openDriver(d, drivers[i], w, n)
			} else {
				links[i], err = s.open(d)
			}
			if err != nil {
				closeAll(links[:i])
				return schema.Errorf(schema.TagResourceDenied, swPath(pe("lwaftr"), pe(sides[i]), pe("device")), "open %s (worker %d of %d): %v", d, w+1, n, err)
			}
		}
		sets = append(sets, links)
	}
	parts.links, parts.more = sets[0], sets[1:]
	return nil
}
