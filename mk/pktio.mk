# pktio: the packet I/O layer (AF_PACKET rings, offload finishing).
# Its tests build veth pairs in namespaces with ip; the live lwAFTR tests
# use curl as the TCP client, ethtool to log the offloads in force and
# netsniff-ng's trafgen as the traffic generator of the multi-worker test.
DEBIAN_PACKAGES += iproute2 curl ethtool netsniff-ng
FUZZ_TARGETS += ./pktio:FuzzOffload
FUZZ_TARGETS += ./pktio:FuzzRepairPartial
