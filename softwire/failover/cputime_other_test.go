//go:build !linux

package failover

import "time"

func threadCPU() time.Duration { return 0 }
