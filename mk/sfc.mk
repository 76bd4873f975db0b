# sfc: NSH codec, classifier, SF node / boundary / proxy data plane.
# tshark and scapy read and write NSH as decoders nobody here wrote;
# nftables is the NSH-unaware SF behind the proxy in the live tests.
DEBIAN_PACKAGES += tshark python3-scapy python3-ncclient nftables iproute2 openvswitch-switch ethtool
FUZZ_TARGETS += ./sfc/nsh:FuzzDecode
FUZZ_TARGETS += ./sfc/classify:FuzzParse
FUZZ_TARGETS += ./sfc/node:FuzzFromDomain
FUZZ_TARGETS += ./sfc/transport:FuzzParseGPE
FUZZ_TARGETS += ./sfc/transport:FuzzEtherFrame
