package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// memoryLimit is the memory this process may use: the cgroup's limit
// (v2, then v1) when one is set, else the machine's total; 0 if neither
// can be read.
func memoryLimit() uint64 {
	total := memTotal()
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64); err == nil && n > 0 && (total == 0 || n < total) {
			return n // "max" (no limit) does not parse
		}
	}
	return total
}

// memTotal is MemTotal from /proc/meminfo, in bytes (0 if unknown).
func memTotal() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
