package shard

// What an open tenant database costs in memory, for the open-database cap.
const (
	// BytesPerOpenDatabase is the resident memory one open tenant database
	// is budgeted: an idle one measured about 300 KB (one connection, its
	// parsed schema and page cache, the -shm mapping; BenchmarkIdleOpenCost),
	// rounded up for pools grown by concurrent requests.
	BytesPerOpenDatabase = 512 << 10
	// MemoryShareForDatabases is the share of the memory limit open tenant
	// databases may take; the rest is for the kernel's page cache of the
	// same files, connections and the Go heap.
	MemoryShareForDatabases = 4 // one quarter
)

// MaxOpenForMemory is how many tenant databases fit in a memory limit of
// that many bytes (0 = unknown: no bound from memory).
func MaxOpenForMemory(limit uint64) int {
	if limit == 0 {
		return int(^uint(0) >> 1)
	}
	return max(16, int(limit/MemoryShareForDatabases/BytesPerOpenDatabase))
}
