package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/wirebeat/wirebeat/server/gnmi"
)

// makeGNMI is the gNMI front end: gRPC with TLS always, on --gnmi.
func makeGNMI(env frontEndEnv) (frontEnd, error) {
	cfg, err := gnmiTLS(env)
	if err != nil {
		return nil, err
	}
	return gnmi.New(env.srv, gnmi.Options{TLS: cfg, Logger: env.log})
}

// gnmiTLS is the server's TLS configuration: the certificate of
// --tls-cert/--tls-key or else the datadir's, and with --tls-ca client
// certificates required and checked against that CA (mutual TLS).
func gnmiTLS(env frontEndEnv) (*tls.Config, error) {
	cert := env.material.cert
	if env.flags.tlsCert != "" {
		c, err := tls.LoadX509KeyPair(env.flags.tlsCert, env.flags.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cert = c
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if env.flags.tlsCA != "" {
		pem, err := os.ReadFile(env.flags.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", env.flags.tlsCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
