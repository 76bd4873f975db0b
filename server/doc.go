// Package server is the element core shared by the NETCONF, gNMI and CLI
// front ends: the running, candidate and startup datastores over the tree
// generated from our YANG modules (package gen), the commit pipeline,
// datastore locks and management sessions, users and roles, the event hub,
// and the rollback history.
//
// A change goes through one pipeline whatever front end made it: apply the
// edit to a copy-on-write copy of the datastore (schema.Tx); normalize it
// (hash clear-text passwords, canonical IPv6 text); check the user's role;
// validate against the YANG schema; compute the changes against running,
// once; Prepare each subsystem that owns some of them (it validates and
// reserves, and may refuse: then those prepared are aborted and no engine
// has changed); persist; Apply (which cannot fail); switch running; publish
// the config-change event, then the events the engines raised while
// applying. Any failure leaves every datastore and every engine as it was.
//
// The tree toolkit (walking, transactions, validation, JSON, paths, the
// diff, errors) is package schema; this package keeps the element.
//
// Engines plug in through the Subsystem interface, whose methods use only
// generated, gNMI-path and events types, so engine packages need not import
// this one.
package server
