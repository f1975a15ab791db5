package shard

import (
	"syscall"
)

// fdsPerTenant is what one open tenant database costs in file descriptors:
// each pooled connection holds the database and its -wal file, and the
// process shares one -shm descriptor per file.
const fdsPerTenant = 2*MaxIdleConnsPerTenant + 1

// reservedFDs are kept for sockets, the catalog and logs.
const reservedFDs = 1024

// RaiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit and returns
// the new soft limit.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return lim.Cur, err
		}
	}
	return lim.Cur, nil
}

// MaxOpenForLimit is how many tenant databases fit in a file limit.
func MaxOpenForLimit(nofile uint64) int {
	if nofile <= 2*reservedFDs {
		return max(16, int(nofile/2)/fdsPerTenant)
	}
	return int(nofile-reservedFDs) / fdsPerTenant
}
