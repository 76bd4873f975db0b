package yang

import "embed"

// Files holds the text of our modules, for NETCONF get-schema and the YANG
// library.
//
//go:embed wirebeat-*.yang ietf-netconf-acm.yang
var Files embed.FS
