// Package server is the element core shared by the NETCONF, gNMI and CLI
// front ends: the running, candidate and startup datastores over the tree
// generated from our YANG modules (package gen), the commit pipeline,
// datastore locks and management sessions, users and roles, the event hub,
// and the rollback history.
//
// A change goes through one pipeline whatever front end made it: apply the
// edit to a private copy of the datastore; normalize it (hash clear-text
// passwords, canonical IPv6 text); check the user's role; validate against
// the YANG schema and the subsystems' semantic checks; diff against running;
// Apply(old, new) on each subsystem in order, reverting those already
// applied if one fails; write the startup file atomically and link it into
// the rollback history; switch running; publish a config-change event. Any
// failure leaves every datastore and every engine as it was.
//
// The tree toolkit (walking, transactions, validation, JSON, paths, the
// diff, errors) is package schema; this package keeps the element.
//
// Engines plug in through the Subsystem interface, whose methods use only
// generated, gNMI-path and events types, so engine packages need not import
// this one.
package server
