DEBIAN_PACKAGES += python3-ncclient yangcli openssh-client
# The libnetconf2 C client (tools/lnc2client, built by the tests with gcc)
# and yanglint on the server's own YANG library and data; libyang2 and
# yangcli's libyuma-base also provide the IETF module texts get-schema
# serves at run time.
DEBIAN_PACKAGES += gcc libnetconf2-dev libssh-dev libssl-dev libyang2-tools libyuma-base
FUZZ_TARGETS += ./server/netconf:FuzzFraming ./server/netconf:FuzzRPC ./server/netconf:FuzzParseXML ./server/netconf:FuzzXPathFilter
