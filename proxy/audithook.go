package proxy

import (
	"github.com/microfi/tenantgate/audit"
	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/bank"
)

// logAudit is the tenant store's audit hook: every committed entry is also
// an info-level structured log line.
func (s *Server) logAudit(tenantID int64, e audit.Entry) {
	catalog.LogAudit(s.log, bank.Scope(tenantID), e)
}
