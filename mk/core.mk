# The element core (server/) and the schema toolkit (schema/). The full-disk
# test mounts a small tmpfs (util-linux mount, present on every Debian).
FUZZ_TARGETS += ./schema:FuzzDecodeJSON
