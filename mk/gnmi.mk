# gNMI (server/gnmi). No Debian package: the reference client gnmi_cli
# comes from the Go module proxy, pinned in go.mod as a tool
# (github.com/openconfig/gnmi/cmd/gnmi_cli), and the tests run it with
# `go tool gnmi_cli` against a wirebeat they build and start.
# Benchmarks (make bench): BenchmarkOnChangeUpdates, BenchmarkEventToWire,
# BenchmarkGetFullState in ./server/gnmi.
FUZZ_TARGETS += ./server/gnmi:FuzzPath ./server/gnmi:FuzzJSONValue
