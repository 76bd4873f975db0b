// Package gnmi is the gNMI front end of the element (gNMI specification
// 0.10): Capabilities, Get, Set and Subscribe over gRPC, always with TLS,
// each RPC authenticated by the username and password of its metadata
// against /system/aaa/users and authorized with the roles NETCONF uses.
//
// It owns no data: Get and Subscribe read the running configuration and
// the state the engines render (server.Server.View), Set goes through the
// element's one commit pipeline as a single copy-on-write transaction, and
// ON_CHANGE telemetry comes from the server's event hub: configuration
// commits and the state changes and notifications engines publish. Every
// subscriber has its own bounded queue on the hub; one that falls behind
// is cut off with RESOURCE_EXHAUSTED and never slows the others.
package gnmi
