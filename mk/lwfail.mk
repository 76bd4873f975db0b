# lwAFTR failover (issue 14): the binding store in etcd (softwire/bindstore)
# and its tests against real etcd members (tools/etcdtest runs the Debian
# etcd-server binary; etcdctl writes as a foreign provisioning system).
DEBIAN_PACKAGES += etcd-server etcd-client
FUZZ_TARGETS += ./softwire/bindstore:FuzzDecode
# lwB4 (softwire/lwb4): NAPT44 into the PSID's ports, encap/decap.
FUZZ_TARGETS += ./softwire/lwb4:FuzzFromWAN ./softwire/lwb4:FuzzFromLAN
# lwB4 provisioning (softwire/dhcp4o6): DHCPv4-over-DHCPv6 against a real
# Kea pair (kea-dhcp6 + kea-dhcp4 in 4o6 mode) in network namespaces.
DEBIAN_PACKAGES += kea-dhcp4-server kea-dhcp6-server
FUZZ_TARGETS += ./softwire/dhcp4o6:FuzzDHCPv6 ./softwire/dhcp4o6:FuzzDHCPv4
# The live failover test (softwire/failover): curl through the lwB4 and
# two lwAFTRs in namespaces, ethtool to turn off veth checksum offload.
DEBIAN_PACKAGES += curl ethtool iproute2
# The live test with real elements (softwire/lwfaillive): two `wirebeat
# run` lwAFTRs, read and subscribed to over NETCONF with ncclient.
DEBIAN_PACKAGES += python3-ncclient
# The lwAFTR's DHCPv4-over-DHCPv6 relay (softwire/dhcp4o6/relay.go): the
# client side is network bytes from the data plane.
FUZZ_TARGETS += ./softwire/dhcp4o6:FuzzRelay
# The failover live tests with the lwB4 element and the relay
# (softwire/lwfaillive): a Kea pair in 4o6 mode, etcdctl to read the
# binding's lease, scapy to probe neighbour discovery for the anycast
# address, dnsmasq as the router's DHCPv6 relay agent.
DEBIAN_PACKAGES += kea-dhcp4-server kea-dhcp6-server etcd-client python3-scapy dnsmasq-base
