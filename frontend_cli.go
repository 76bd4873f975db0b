package main

import (
	"github.com/wirebeat/wirebeat/server/cli"
)

// The SSH CLI front end, on --cli.
func init() {
	frontEndKinds = append(frontEndKinds, frontEndKind{
		name: "CLI",
		addr: func(f runFlags) string { return f.cli },
		make: func(env frontEndEnv) (frontEnd, error) {
			return cli.New(env.srv, cli.Options{HostKey: env.material.hostKey, Logger: env.log})
		},
	})
}
