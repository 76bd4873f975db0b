package main

import (
	"github.com/wirebeat/wirebeat/server/cli"
)

// makeCLI is the SSH CLI front end, on --cli.
func makeCLI(env frontEndEnv) (frontEnd, error) {
	return cli.New(env.srv, cli.Options{HostKey: env.material.hostKey, Logger: env.log})
}
