// Package yang holds the YANG modules of wirebeat, the source of the
// generated tree in package gen, and embeds their text for the management
// front ends (NETCONF get-schema, the YANG library).
package yang
