// Package netconf serves the element over NETCONF on SSH: RFC 6241 with the
// framing of RFC 6242, notifications of RFC 5277 and RFC 6470, monitoring
// of RFC 6022, with-defaults of RFC 6243 and the YANG library of RFC 8525.
//
// A message is parsed whole into an element tree before it is acted on;
// <config> content is applied to a copy-on-write transaction of the element
// core, so an edit-config is validated and committed (or stored in the
// candidate) all or nothing, like every other change. Replies are written
// straight from the generated structs, walking configuration and state
// side by side.
package netconf
