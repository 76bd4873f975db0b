# pktio: the packet I/O layer (AF_PACKET rings, offload finishing).
# Its tests build veth pairs in namespaces with ip; the live lwAFTR tests
# use curl as the TCP client and ethtool to log the offloads in force.
DEBIAN_PACKAGES += iproute2 curl ethtool
FUZZ_TARGETS += ./pktio:FuzzOffload
FUZZ_TARGETS += ./pktio:FuzzRepairPartial
