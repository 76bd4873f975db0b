//go:build !linux

package bindingtable

func mapSlots(n int) ([]slot, []byte) { return nil, nil }

func unmapSlots(mem []byte) {}
