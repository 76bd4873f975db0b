# DS-Lite (softwire/netpkt shared packet layer, softwire/dslite AFTR and B4).
FUZZ_TARGETS += ./softwire/netpkt:FuzzReassemble
FUZZ_TARGETS += ./softwire/dslite:FuzzAFTRFromB4 ./softwire/dslite:FuzzAFTRFromInternet ./softwire/dslite:FuzzB4FromWAN ./softwire/dslite:FuzzLinkInput
FUZZ_TARGETS += ./softwire/aftrname:FuzzParseReply
# AFTR discovery (softwire/aftrname) is tested against a real Kea DHCPv6
# server and dnsmasq (tools/kea, tools/dnsmasq); the DS-Lite end-to-end
# test runs curl, python3 -m http.server and iperf3 through B4 and AFTRs,
# sends bad input with scapy and subscribes with ncclient; make demo uses
# ssh (and sshpass to script it).
DEBIAN_PACKAGES += kea-dhcp6-server dnsmasq-base iperf3 curl python3 python3-scapy python3-ncclient openssh-client sshpass

# make demo (root): the DS-Lite topology with a B4 behind two AFTRs, and
# what to type to watch it; make demo-stop removes it.
.PHONY: demo demo-stop
demo:
	bash tools/dslitedemo/demo.sh up
demo-stop:
	bash tools/dslitedemo/demo.sh down
