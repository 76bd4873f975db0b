# softwire: lwAFTR data plane, binding table, Snabb configuration import.
# The live lwAFTR test builds network namespaces and veth pairs with ip.
DEBIAN_PACKAGES += iproute2
FUZZ_TARGETS += ./softwire/lwaftr:FuzzReceive
FUZZ_TARGETS += ./softwire/lwaftr:FuzzFilter
FUZZ_TARGETS += ./softwire/snabbconf:FuzzImport
FUZZ_TARGETS += ./softwire/pcapio:FuzzReader
