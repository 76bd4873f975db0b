// Package cli is the operators' SSH command line: a Junos-style shell over
// the element core of package server, with an operational mode (show,
// monitor) and a configuration mode (a private candidate, set/delete/edit,
// show | compare, commit) whose commits go through the core's one pipeline.
//
// Every command path, argument, completion and help text below the fixed
// verbs comes from the YANG schema (the goyang entries ygot loads), so a
// leaf added to a module is settable, showable and completable with no
// change here. The SSH side (host key, users, roles, failed-login delay) is
// package sshserver, shared with NETCONF.
package cli
