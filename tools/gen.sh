#!/usr/bin/env bash
# Generates the Go structs of gen/ from the YANG modules of yang/ with ygot's
# generator, pinned in go.mod as a tool dependency. `make gen` writes
# gen/wirebeat.go; the staleness test writes elsewhere and compares.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-gen/wirebeat.go}
go tool generator \
  -path=yang \
  -output_file="$out" \
  -package_name=gen \
  -generate_fakeroot -fakeroot_name=device \
  -include_schema \
  -compress_paths=false \
  -generate_simple_unions \
  -shorten_enum_leaf_names \
  -typedef_enum_with_defmod \
  -enum_suffix_for_simple_union_enums \
  -generate_append -generate_getters -generate_delete \
  -generate_leaf_getters -generate_populate_defaults \
  -ignore_unsupported \
  yang/wirebeat-types.yang yang/wirebeat-system.yang yang/ietf-netconf-acm.yang \
  $(ls yang/wirebeat-bfd.yang yang/wirebeat-softwire.yang yang/wirebeat-sfc.yang 2>/dev/null)
gofmt -w "$out"
