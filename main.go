// Command wirebeat is a YANG-managed network element for IPv6 transition
// networks: BFD, lw4o6 and DS-Lite softwires, and service function chaining,
// configured over NETCONF, gNMI and an SSH CLI.
package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultConfig is the configuration of a first start without --config.
//
//go:embed default-config.json
var defaultConfig []byte

const usage = `usage: wirebeat <command> [flags]

commands:
  run                          start the element (wirebeat run -h for its flags)
  lwaftr check [--on-a-stick] CONF IN_V4 IN_V6 OUT_V4 OUT_V6 [COUNTERS]
                               run the lwAFTR data plane once over pcap files
  lwaftr bench [--workers N] [--duration D] CONF IN_V4 IN_V6
                               packets per second of the data plane over pcap files
  import snabb-lwaftr FILE     print the wirebeat configuration of a Snabb lwAFTR config
  version                      print the version
`

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "wirebeat", version)
		return 0
	case "lwaftr":
		return lwaftrCommand(args[1:], stdout, stderr)
	case "import":
		return importCommand(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wirebeat: unknown command %q\n%s", args[0], usage)
	return 2
}
