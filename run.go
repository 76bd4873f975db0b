package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
)

// adminPasswordEnv gives the first administrator's password on a first
// start; without it a random one is written to the datadir.
const adminPasswordEnv = "WIREBEAT_ADMIN_PASSWORD"

// initialPasswordFile is where a generated first password is written.
const initialPasswordFile = "initial-admin-password"

type runFlags struct {
	datadir  string
	config   string
	netconf  string
	gnmi     string
	cli      string
	tlsCert  string
	tlsKey   string
	tlsCA    string
	logLevel string
}

func runCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wirebeat run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.datadir, "datadir", "/var/lib/wirebeat", "directory for the startup config, rollback history, SSH host key and TLS material")
	fs.StringVar(&f.config, "config", "", "RFC 7951 JSON configuration to start with instead of the startup config")
	fs.StringVar(&f.netconf, "netconf", "127.0.0.1:8830", "NETCONF over SSH listen address (empty: off)")
	fs.StringVar(&f.gnmi, "gnmi", "127.0.0.1:9339", "gNMI listen address (empty: off)")
	fs.StringVar(&f.cli, "cli", "127.0.0.1:8022", "SSH CLI listen address (empty: off)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "gNMI TLS certificate (PEM); default: the datadir's, made on first start")
	fs.StringVar(&f.tlsKey, "tls-key", "", "gNMI TLS private key (PEM), with --tls-cert")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "CA bundle (PEM) that gNMI client certificates must chain to: mutual TLS")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wirebeat run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := run(f, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "wirebeat:", err)
		return 1
	}
	return 0
}

func run(f runFlags, stdout, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	for name, addr := range map[string]string{"--netconf": f.netconf, "--gnmi": f.gnmi, "--cli": f.cli} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s %q: %w", name, addr, err)
		}
	}
	if err := os.MkdirAll(f.datadir, 0o700); err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	var initial []byte
	if f.config != "" {
		var err error
		if initial, err = os.ReadFile(f.config); err != nil {
			return fmt.Errorf("--config: %w", err)
		}
	}
	material, err := loadMaterial(f.datadir)
	if err != nil {
		return err
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	subs, err := makeSubsystems(log)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{
		DataDir:    f.datadir,
		Subsystems: subs,
		Initial:    initial,
		Default:    defaultConfig,
		Logger:     log,
		Version:    version,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	fmt.Fprintf(stdout, "wirebeat %s: datadir %s\n", version, f.datadir)
	if err := ensureAdmin(srv, f.datadir, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "SSH host key %s (%s)\n", material.hostKeyPath, material.hostKeyFingerprint)
	fmt.Fprintf(stdout, "TLS certificate %s\n", material.certPath)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fronts, err := startFrontEnds(ctx, f, srv, material, log, stdout)
	if err != nil {
		return err
	}
	defer fronts.stop()
	fmt.Fprintln(stdout, "running; SIGTERM or Ctrl-C stops")
	<-ctx.Done()
	log.Info("stopping")
	fronts.stop()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}

// ensureAdmin creates the first administrator when the configuration has no
// users. There is no default password: it comes from $WIREBEAT_ADMIN_PASSWORD
// or is generated and written, readable by the owner only, to the datadir.
func ensureAdmin(srv *server.Server, datadir string, stdout io.Writer) error {
	if users := srv.Running().GetSystem().GetAaa().GetUsers(); users != nil && len(users.User) > 0 {
		return nil
	}
	password := os.Getenv(adminPasswordEnv)
	fromEnv := password != ""
	if !fromEnv {
		password = rand.Text()
	}
	sys := &server.Session{User: "system", Role: server.RoleAdmin, Transport: "system"}
	err := srv.Edit(sys, server.Running, func(root *gen.Device) error {
		u := root.GetOrCreateSystem().GetOrCreateAaa().GetOrCreateUsers().GetOrCreateUser("admin")
		u.Password = ygot.String(password)
		u.Role = gen.WirebeatSystem_UserRole_admin
		return nil
	})
	if err != nil {
		return fmt.Errorf("create the first administrator: %w", err)
	}
	if fromEnv {
		fmt.Fprintf(stdout, "user admin created with the password from $%s\n", adminPasswordEnv)
		return nil
	}
	path := filepath.Join(datadir, initialPasswordFile)
	if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initial admin password: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil { // an older file may have had other bits
		return errors.Join(err, os.Remove(path))
	}
	fmt.Fprintf(stdout, "user admin created; its password is in %s\n", path)
	return nil
}
