// Package lwfaillive holds the live test of lwAFTR anycast failover with
// real elements: two `wirebeat run` processes as the lwAFTRs of one
// anycast address, in network namespaces made by the test, sharing their
// bindings through a real 3-member etcd cluster; a lwB4 (the
// softwire/lwb4 engine on a TUN device) with a home client behind it; an
// Internet server. It has no code of its own outside the test.
package lwfaillive
