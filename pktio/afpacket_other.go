//go:build !linux

package pktio

import "errors"

func open(dev string, cfg Config) (Port, error) {
	return nil, errors.New("pktio: live interfaces need Linux (AF_PACKET, AF_XDP)")
}
