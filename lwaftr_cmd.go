package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/softwire/snabbconf"
)

const importUsage = "usage: wirebeat import snabb-lwaftr FILE\n"

// importCommand prints the wirebeat configuration (RFC 7951 JSON) that is
// equivalent to a Snabb lwAFTR softwire-config file.
func importCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "snabb-lwaftr" {
		fmt.Fprint(stderr, importUsage)
		return 2
	}
	src, err := os.ReadFile(args[1])
	if err != nil {
		fmt.Fprintf(stderr, "wirebeat import: %v\n", err)
		return 1
	}
	dev, err := snabbconf.Import(src)
	if err != nil {
		fmt.Fprintf(stderr, "wirebeat import: %s: %v\n", args[1], err)
		return 1
	}
	js, err := schema.EncodeJSON(dev)
	if err != nil {
		fmt.Fprintf(stderr, "wirebeat import: encode: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(js); err != nil {
		return 1
	}
	if len(js) > 0 && js[len(js)-1] != '\n' {
		fmt.Fprintln(stdout)
	}
	return 0
}

const lwaftrUsage = `usage: wirebeat lwaftr check [--on-a-stick] CONF IN_V4 IN_V6 OUT_V4 OUT_V6 [COUNTERS]

Runs the lwAFTR data plane once over pcap files. CONF is a wirebeat JSON
configuration or a Snabb softwire-config file. A "-" input is empty; a "-"
output is discarded. COUNTERS receives the counters as JSON.
`

// lwaftrCommand implements `wirebeat lwaftr check`.
func lwaftrCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, lwaftrUsage)
		return 2
	}
	args = args[1:]
	stick := false
	if len(args) > 0 && (args[0] == "--on-a-stick" || args[0] == "-on-a-stick") {
		stick, args = true, args[1:]
	}
	if len(args) != 5 && len(args) != 6 {
		fmt.Fprint(stderr, lwaftrUsage)
		return 2
	}
	if err := lwaftrCheck(stick, args); err != nil {
		fmt.Fprintf(stderr, "wirebeat lwaftr check: %v\n", err)
		return 1
	}
	return 0
}

func lwaftrCheck(stick bool, args []string) (err error) {
	cfg, bindings, err := loadLwaftrConfig(args[0])
	if err != nil {
		return err
	}
	cfg.OnAStick = cfg.OnAStick || stick
	var ins [2]io.Reader
	for i, path := range args[1:3] {
		if path == "-" {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		ins[i] = f
	}
	var outs [2]io.Writer
	for i, path := range args[3:5] {
		if path == "-" {
			continue
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = cerr
			}
		}()
		outs[i] = f
	}
	c, err := lwaftr.Check(cfg, bindings, ins[0], ins[1], outs[0], outs[1])
	if err != nil {
		return err
	}
	if len(args) == 6 {
		js, err := json.MarshalIndent(c.Map(), "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(args[5], append(js, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// loadLwaftrConfig reads CONF: Snabb syntax when it does not start with
// "{", else wirebeat JSON.
func loadLwaftrConfig(path string) (lwaftr.Config, []lwaftr.Binding, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return lwaftr.Config{}, nil, err
	}
	var dev *gen.Device
	if snabbconf.Detect(src) {
		dev, err = snabbconf.Import(src)
	} else {
		dev, err = schema.DecodeJSON(src)
	}
	if err != nil {
		return lwaftr.Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg, b, err := softwire.LwaftrConfig(dev)
	if err != nil {
		return cfg, nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, b, nil
}
