DEBIAN_PACKAGES += python3-ncclient yangcli openssh-client
