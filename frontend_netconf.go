package main

import (
	"github.com/wirebeat/wirebeat/server/netconf"
)

// makeNETCONF is the NETCONF front end: SSH on --netconf.
func makeNETCONF(env frontEndEnv) (frontEnd, error) {
	return netconf.New(env.srv, netconf.Options{HostKey: env.material.hostKey, Logger: env.log, DataDir: env.flags.datadir})
}
