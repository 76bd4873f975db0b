// Package lwb4live holds the live test of the lwB4 subsystem: a
// `wirebeat run` lwB4 element carries a home host's curl through a
// `wirebeat run` lwAFTR to a server, in network namespaces made by the
// test. It has no code of its own outside the test.
package lwb4live
