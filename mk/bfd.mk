# BFD engine (bfd/): real peers and tools of the tests in bfd/interop and
# bfd/transport — FRR bfdd, BIRD 2, iproute2 for network namespaces,
# nftables to induce loss. FuzzDecode of ./bfd is in the Makefile itself.
DEBIAN_PACKAGES += frr bird2 iproute2 nftables
FUZZ_TARGETS += ./bfd:FuzzEngineReceive
