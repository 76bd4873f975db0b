# sfc: NSH codec, classifier, SF node / boundary / proxy data plane.
# tshark and scapy read and write NSH as decoders nobody here wrote;
# nftables is the NSH-unaware SF behind the proxy in the live tests.
DEBIAN_PACKAGES += tshark python3-scapy nftables iproute2
FUZZ_TARGETS += ./sfc/nsh:FuzzDecode
FUZZ_TARGETS += ./sfc/classify:FuzzParse
FUZZ_TARGETS += ./sfc/node:FuzzFromDomain
FUZZ_TARGETS += ./sfc/transport:FuzzParseGPE
