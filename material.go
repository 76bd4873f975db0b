package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ssh"
)

// Files of the datadir holding key material.
const (
	hostKeyFile = "ssh_host_ed25519_key"
	certFile    = "tls-cert.pem"
	keyFile     = "tls-key.pem"
)

// material is the key material of the element, made on first start and
// reused afterwards so that clients keep trusting the same identity.
type material struct {
	hostKey            ssh.Signer
	hostKeyPath        string
	hostKeyFingerprint string
	cert               tls.Certificate
	certPath, keyPath  string
}

func loadMaterial(dir string) (*material, error) {
	m := &material{
		hostKeyPath: filepath.Join(dir, hostKeyFile),
		certPath:    filepath.Join(dir, certFile),
		keyPath:     filepath.Join(dir, keyFile),
	}
	// Like OpenSSH, refuse private keys others can read: a key anyone on
	// the host could have copied proves nothing.
	for _, p := range []string{m.hostKeyPath, m.keyPath} {
		if err := checkPrivate(p); err != nil {
			return nil, err
		}
	}
	var err error
	if m.hostKey, err = loadOrCreateHostKey(m.hostKeyPath); err != nil {
		return nil, err
	}
	m.hostKeyFingerprint = ssh.FingerprintSHA256(m.hostKey.PublicKey())
	if m.cert, err = loadOrCreateCert(m.certPath, m.keyPath); err != nil {
		return nil, err
	}
	return m, nil
}

// checkPrivate refuses a private key file that group or others may read
// or write. A missing file is made later with mode 0600.
func checkPrivate(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("private key %s: %w", path, err)
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("private key %s has mode %04o: others may read it; refusing to use it (chmod 600 %s)", path, mode, path)
	}
	return nil
}

func loadOrCreateHostKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate SSH host key: %w", err)
		}
		block, err := ssh.MarshalPrivateKey(priv, "wirebeat host key")
		if err != nil {
			return nil, fmt.Errorf("encode SSH host key: %w", err)
		}
		data = pem.EncodeToMemory(block)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("write SSH host key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read SSH host key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("SSH host key %s: %w", path, err)
	}
	return signer, nil
}

func loadOrCreateCert(certPath, keyPath string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		return cert, nil
	}
	if _, statErr := os.Stat(certPath); !errors.Is(statErr, fs.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("TLS certificate %s: %w", certPath, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	host, _ := os.Hostname()
	names := []string{"localhost"}
	if host != "" && host != "localhost" {
		names = append(names, host)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "wirebeat " + host, Organization: []string{"wirebeat"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(2, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("write TLS key: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("write TLS certificate: %w", err)
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}
