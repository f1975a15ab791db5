package proxy

import "github.com/microfi/tenantgate/proxy/tenantmetrics"

// tenantFileSizes feeds the per-tenant db and WAL byte gauges from the
// shard manager, at scrape time.
func (s *Server) tenantFileSizes(ids []int64) (map[int64]tenantmetrics.Size, tenantmetrics.Size) {
	each, other := s.shards.FileSizes(ids)
	out := make(map[int64]tenantmetrics.Size, len(each))
	for id, fs := range each {
		out[id] = tenantmetrics.Size{DB: fs.DB, WAL: fs.WAL}
	}
	return out, tenantmetrics.Size{DB: other.DB, WAL: other.WAL}
}
