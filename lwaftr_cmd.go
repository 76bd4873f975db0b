package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/softwire"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
	"github.com/wirebeat/wirebeat/softwire/pcapio"
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
       wirebeat lwaftr bench [--workers N] [--duration D] CONF IN_V4 IN_V6

check runs the lwAFTR data plane once over pcap files. CONF is a wirebeat
JSON configuration or a Snabb softwire-config file. A "-" input is empty; a
"-" output is discarded. COUNTERS receives the counters as JSON.

bench runs the data plane in process over the frames of IN_V4 (fed to the
external side: encapsulation) and of IN_V6 (fed to the internal side:
decapsulation), again and again for D per direction (default 3s), on N
workers (default 1, one per core) sharing one binding table, and prints
the packets per second of each direction in total and per core.
`

// lwaftrCommand implements `wirebeat lwaftr check` and `bench`.
func lwaftrCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "bench" {
		if err := lwaftrBench(args[1:], stdout); err != nil {
			fmt.Fprintf(stderr, "wirebeat lwaftr bench: %v\n", err)
			if errors.Is(err, errUsage) {
				fmt.Fprint(stderr, lwaftrUsage)
				return 2
			}
			return 1
		}
		return 0
	}
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

var errUsage = errors.New("bad arguments")

// lwaftrBench implements `wirebeat lwaftr bench`.
func lwaftrBench(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lwaftr bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	workers := fs.Int("workers", 1, "workers (one per core)")
	dur := fs.Duration("duration", 3*time.Second, "time per direction")
	if err := fs.Parse(args); err != nil || fs.NArg() != 3 || *workers < 1 || *workers > 256 || *dur <= 0 || *dur > time.Hour {
		return errUsage
	}
	cfg, bindings, err := loadLwaftrConfig(fs.Arg(0))
	if err != nil {
		return err
	}
	bt, err := lwaftr.NewTable(bindings)
	if err != nil {
		return err
	}
	if runtime.GOMAXPROCS(0) < *workers {
		runtime.GOMAXPROCS(*workers)
	}
	fmt.Fprintf(stdout, "%d softwires, %d worker(s), %v per direction\n", bt.Len(), *workers, *dur)
	for _, d := range []struct {
		name string
		side lwaftr.Port
		path string
	}{{"encapsulation", lwaftr.External, fs.Arg(1)}, {"decapsulation", lwaftr.Internal, fs.Arg(2)}} {
		if d.path == "-" {
			continue
		}
		frames, err := readFrames(d.path)
		if err != nil {
			return err
		}
		if len(frames) == 0 {
			fmt.Fprintf(stdout, "%s: %s has no frames\n", d.name, d.path)
			continue
		}
		res, err := benchDirection(cfg, bt, d.side, frames, *workers, *dur)
		if err != nil {
			return err
		}
		var in, out uint64
		var secs float64
		for _, r := range res {
			in += r.in
			out += r.out
			secs = max(secs, r.elapsed.Seconds())
		}
		fmt.Fprintf(stdout, "%s (%s, %d frames): %.3f Mpps in, %.3f Mpps out", d.name, d.path, len(frames), float64(in)/secs/1e6, float64(out)/secs/1e6)
		for i, r := range res {
			fmt.Fprintf(stdout, "; core %d: %.3f Mpps", i, float64(r.in)/r.elapsed.Seconds()/1e6)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

func readFrames(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := pcapio.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var frames [][]byte
	for {
		fr, err := rd.Next()
		if err == io.EOF {
			return frames, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		frames = append(frames, append([]byte(nil), fr...))
	}
}

// benchCounter counts what the engine sends.
type benchCounter struct{ n uint64 }

func (c *benchCounter) Send(lwaftr.Port, []byte) { c.n++ }

type benchResult struct {
	in, out uint64
	elapsed time.Duration
}

// benchDirection feeds frames to side on each worker (an engine on its
// own OS thread, all reading bt) for about d.
func benchDirection(cfg lwaftr.Config, bt *bindingtable.Table, side lwaftr.Port, frames [][]byte, workers int, d time.Duration) ([]benchResult, error) {
	res := make([]benchResult, workers)
	engines := make([]*lwaftr.Engine, workers)
	counters := make([]*benchCounter, workers)
	for i := range engines {
		counters[i] = &benchCounter{}
		e, err := lwaftr.New(cfg, bt, counters[i])
		if err != nil {
			return nil, err
		}
		e.SetSharedTable(bt) // read only: nothing changes it during the run
		e.Start()
		e.Flush()
		counters[i].n = 0
		engines[i] = e
	}
	const batch = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			e := engines[i]
			<-start
			t0 := time.Now()
			deadline := t0.Add(d)
			var n uint64
			for j := i * batch % len(frames); ; {
				for k := 0; k < 64; k++ {
					end := min(j+batch, len(frames))
					if cfg.OnAStick {
						for _, f := range frames[j:end] {
							e.ReceiveStick(f)
						}
					} else {
						e.ReceiveBatch(side, frames[j:end])
					}
					e.Flush()
					n += uint64(end - j)
					if j = end; j == len(frames) {
						j = 0
					}
				}
				if time.Now().After(deadline) {
					break
				}
			}
			res[i] = benchResult{in: n, out: counters[i].n, elapsed: time.Since(t0)}
		}()
	}
	close(start)
	wg.Wait()
	return res, nil
}
