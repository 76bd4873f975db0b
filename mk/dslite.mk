# DS-Lite (softwire/netpkt shared packet layer, softwire/dslite AFTR and B4).
FUZZ_TARGETS += ./softwire/netpkt:FuzzReassemble
FUZZ_TARGETS += ./softwire/dslite:FuzzAFTRFromB4 ./softwire/dslite:FuzzAFTRFromInternet ./softwire/dslite:FuzzB4FromWAN
