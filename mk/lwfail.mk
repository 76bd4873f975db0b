# lwAFTR failover (issue 14): the binding store in etcd (softwire/bindstore)
# and its tests against real etcd members (tools/etcdtest runs the Debian
# etcd-server binary; etcdctl writes as a foreign provisioning system).
DEBIAN_PACKAGES += etcd-server etcd-client
FUZZ_TARGETS += ./softwire/bindstore:FuzzDecode
