// Package interop holds the BFD engine's tests against real peers (FRR
// bfdd, BIRD 2) and between two wirebeat engines, each in network
// namespaces the test creates. It has no code of its own.
package interop
