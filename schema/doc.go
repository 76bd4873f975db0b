// Package schema is the toolkit for the configuration/state tree generated
// from our YANG modules (package gen): walking it with cached field tables,
// copy-on-write transactions (Tx), validation against the YANG types and
// constraints, the one text codec of leaf and key values, RFC 7951 JSON,
// gNMI paths (resolution, wildcard matching, the one overlap test), the
// diff between two trees, and the path-carrying Error whose tags are those
// of RFC 6241 Appendix A.
//
// It knows nothing of datastores, sessions or front ends: the element core
// (package server), the front ends and the engines' adapters import it for
// their path and tree work.
package schema
