// Package sfc owns service function chaining (seed 004, with NSH per RFC
// 8300 on the wire). The engine core lives in subpackages that know
// nothing of YANG: nsh (the header codec), classify (the classifier),
// node (boundary, classifier, SF node and proxy data plane, policy tables,
// liveness, counters) and transport (VXLAN-GPE and UDP sockets, TUN
// interfaces). This package is the adapter: it maps /sfc of the generated
// tree to a node configuration, runs the I/O, watches locators with BFD
// sessions in the element's BFD engine, and renders state and
// notifications back.
package sfc
