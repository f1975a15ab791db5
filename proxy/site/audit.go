package site

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/audit"
	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/httpapi"
)

// record appends what an anonymous visitor created (a demo, a signup's
// tenant) to the platform audit trail, which also logs it: who (client
// address, request id), what and which tenant; never the e-mail or the
// password. The tenant exists by then and the visitor is owed the answer,
// so a failed record is logged at error level, not returned.
func (s *Site) record(c context.Context, ctx *fasthttp.RequestCtx, action string, tenantID int64, details map[string]string) {
	e := audit.Entry{Role: "anonymous", ClientAddr: httpapi.ClientAddr(ctx), RequestID: httpapi.RequestID(ctx),
		Action: action, TargetType: "tenant", TargetID: catalog.FormatID(tenantID), Details: details}
	if _, err := s.catalog.Audit(c, e); err != nil {
		s.log.Error("record in the platform audit trail", "action", action, "tenant_id", tenantID, "err", err)
	}
}
