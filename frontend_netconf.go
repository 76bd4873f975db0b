package main

import (
	"github.com/wirebeat/wirebeat/server/netconf"
)

func init() {
	frontEndKinds = append(frontEndKinds, frontEndKind{
		name: "NETCONF",
		addr: func(f runFlags) string { return f.netconf },
		make: func(env frontEndEnv) (frontEnd, error) {
			return netconf.New(env.srv, netconf.Options{HostKey: env.material.hostKey, Logger: env.log})
		},
	})
}
