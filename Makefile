# wirebeat: build, generate, run, test, bench, fuzz.
# `make test` is what CI runs (through .ci/run).

SHELL     := bash
GO        ?= go
DATADIR   ?= ./data

# Debian packages the tests use as real peers and checkers. `make deps`
# installs the missing ones when run as root; as non-root the tests that
# need them print a SKIP line.
DEBIAN_PACKAGES := libyang2-tools

# Every decoder of network bytes has a fuzz target (package:Target).
FUZZ_TARGETS := ./bfd:FuzzDecode

# Each area adds its Debian packages and fuzz targets in mk/<area>.mk, e.g.
#   DEBIAN_PACKAGES += frr
#   FUZZ_TARGETS += ./softwire:FuzzParse
-include mk/*.mk

.PHONY: all build gen run test deps lint bench fuzz clean

all: build

build:
	$(GO) build -o wirebeat .

# Regenerate the Go structs of gen/ from yang/ (ygot's generator, pinned in
# go.mod as a tool). Commit the result; a test fails when it is stale.
gen:
	bash tools/gen.sh gen/wirebeat.go

# Start the element on its embedded default configuration with a datadir
# in this checkout.
run:
	$(GO) run . run --datadir $(DATADIR)

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "SKIP: installing$$missing needs root; the tests using them will skip"; exit 0; fi; \
	echo "installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# All tests: unit, integration, conformance, interop. Prints package results,
# failures and SKIP lines; the full log is in test.log.
# Test binaries are built in parallel first; then the packages run one at a
# time (-p 1): several start real peers and traffic in namespaces, and two of
# them at once on a 2-core machine would test the scheduler, not the code.
test: deps lint
	@$(GO) test -count=1 -run '^$$' ./... >/dev/null
	@set -o pipefail; $(GO) test -count=1 -p 1 -v ./... 2>&1 | tee test.log | \
	  grep -E '^(ok|FAIL|panic:|--- FAIL)|SKIP:|^\s+\S+_test\.go:[0-9]+: ' | grep -v -- '--- PASS'

# The figures of DESIGN.md "Performance", measured here, as one table.
bench:
	$(GO) run ./tools/benchtable

# Run each fuzz target for FUZZTIME.
FUZZTIME ?= 30s
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $$t"; \
	  $(GO) test $${t%%:*} -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

clean:
	rm -f wirebeat test.log
