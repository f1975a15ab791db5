package shard

import (
	"syscall"
)

// What tenant databases cost in file descriptors, for the fd budget.
const (
	// FDsPerConn: one SQLite connection holds the database file and its
	// -wal file (the process shares one -shm descriptor per file).
	FDsPerConn = 2
	// FDsPerDatabase: an open database's first pooled connection plus the
	// -shm. Each further pooled connection is charged FDsPerConn when the
	// pool opens it (pool.go).
	FDsPerDatabase = FDsPerConn + 1
)

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

// FDBudgetForLimit is the fd budget of tenant databases given the
// descriptors left to them (the caller has taken the process's reserve and
// the sockets' share out already: cmd/tenantgate, fdSplit).
func FDBudgetForLimit(tenantFDs uint64) int {
	return max(16*FDsPerDatabase, int(min(tenantFDs, 1<<40)))
}

// MaxOpenForLimit is how many tenant databases fit in that many
// descriptors.
func MaxOpenForLimit(tenantFDs uint64) int {
	return FDBudgetForLimit(tenantFDs) / FDsPerDatabase
}
