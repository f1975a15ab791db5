package proxy

import (
	"context"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/storage"
	"github.com/microfi/tenantgate/shard/verify"
)

// auditTargets lists the local tenant databases for the continuous ledger
// audit, one catalog page at a time.
func (s *Server) auditTargets(ctx context.Context) ([]verify.Target, error) {
	var out []verify.Target
	for offset := 0; ; {
		page, total, err := s.catalog.List(ctx, catalog.ListOptions{Limit: 500, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			if url := s.shards.URL(t.ID, t.DBURL); !storage.IsRemote(url) {
				out = append(out, verify.Target{ID: t.ID, Host: t.Host, URL: url})
			}
		}
		offset += len(page)
		if len(page) == 0 || offset >= total {
			return out, nil
		}
	}
}
