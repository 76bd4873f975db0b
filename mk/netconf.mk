DEBIAN_PACKAGES += python3-ncclient yangcli openssh-client
FUZZ_TARGETS += ./server/netconf:FuzzFraming ./server/netconf:FuzzRPC ./server/netconf:FuzzParseXML
