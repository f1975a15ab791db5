package proxy

import (
	"context"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/verify"
)

// auditTargets lists the tenant databases for the continuous ledger audit,
// local files and remote ones (read over the libSQL client, see
// verify.Tenant), one catalog page at a time.
func (s *Server) auditTargets(ctx context.Context) ([]verify.Target, error) {
	var out []verify.Target
	for offset := 0; ; {
		page, total, err := s.catalog.List(ctx, catalog.ListOptions{Limit: 500, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			out = append(out, verify.Target{ID: t.ID, Host: t.Host, URL: s.shards.URL(t.ID, t.DBURL)})
		}
		offset += len(page)
		if len(page) == 0 || offset >= total {
			return out, nil
		}
	}
}
