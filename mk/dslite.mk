# DS-Lite (softwire/netpkt shared packet layer, softwire/dslite AFTR and B4).
FUZZ_TARGETS += ./softwire/netpkt:FuzzReassemble
