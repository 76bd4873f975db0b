package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"

	"github.com/wirebeat/wirebeat/bfd"
)

// ReflectorConfig places an S-BFD reflector.
type ReflectorConfig struct {
	IPv6 bool
	// Local restricts answers to packets sent to this address; any
	// address when zero.
	Local netip.Addr
	// Port overrides 7784 (tests).
	Port int
	Log  *slog.Logger
}

// Reflector serves a bfd.Reflector on UDP 7784: it reads initiators'
// packets in batches and sends the answers back in batches, to the address
// and port each came from, with TTL 255.
type Reflector struct {
	refl   *bfd.Reflector
	log    *slog.Logger
	conn   *net.UDPConn
	pc     batchConn
	closed chan struct{}
}

// OpenReflector binds the reflector's socket; Run serves it.
func OpenReflector(cfg ReflectorConfig, refl *bfd.Reflector) (*Reflector, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	port := cfg.Port
	if port == 0 {
		port = bfd.SBFDPort
	}
	u := &UDP{cfg: Config{IPv6: cfg.IPv6, Local: cfg.Local, TxTTL: 255}}
	conn, err := u.listen(port)
	if err != nil {
		return nil, fmt.Errorf("s-bfd reflector: listen on port %d: %w", port, err)
	}
	u.rxConn, u.txConn = conn, conn
	if err := u.setup(); err != nil {
		conn.Close()
		return nil, err
	}
	return &Reflector{refl: refl, log: cfg.Log, conn: conn, pc: u.tx, closed: make(chan struct{})}, nil
}

// Run answers until Close.
func (r *Reflector) Run() error {
	in := make([]ipv4.Message, batchSize)
	out := make([]ipv4.Message, batchSize)
	inBuf := make([][256]byte, batchSize)
	outBuf := make([][bfd.MaxLen]byte, batchSize)
	oob := make([][128]byte, batchSize)
	for i := range in {
		in[i].Buffers = [][]byte{inBuf[i][:]}
		in[i].OOB = oob[i][:]
		out[i].Buffers = [][]byte{nil}
	}
	for {
		n, err := r.pc.ReadBatch(in, 0)
		if err != nil {
			select {
			case <-r.closed:
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			r.log.Debug("s-bfd reflector receive", "err", err)
			continue
		}
		k := 0
		for i := 0; i < n; i++ {
			src, ok := in[i].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			ans, ok := r.refl.Reflect(inBuf[i][:in[i].N], outBuf[k][:0], src.Port == bfd.SBFDPort)
			if !ok {
				continue
			}
			out[k].Buffers[0] = ans
			out[k].Addr = src
			k++
		}
		for sent := 0; sent < k; {
			m, err := r.pc.WriteBatch(out[sent:k], 0)
			if err != nil {
				r.log.Debug("s-bfd reflector send", "err", err)
				break
			}
			sent += m
		}
		for i := range in[:n] {
			in[i].OOB = oob[i][:]
		}
	}
}

// Close stops Run.
func (r *Reflector) Close() error {
	select {
	case <-r.closed:
		return nil
	default:
		close(r.closed)
	}
	return r.conn.Close()
}
