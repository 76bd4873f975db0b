// Package tools holds helpers for development, tests, interop and
// benchmarks: gen.sh regenerates package gen from the YANG modules; later
// issues add peers and traffic generators here.
package tools
