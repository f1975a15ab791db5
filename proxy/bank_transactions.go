package proxy

import (
	"net/http"

	"github.com/microfi/tenantgate/shard/bank"
)

var headerIdempotencyKey = []byte("Idempotency-Key")

// listTransactions answers GET /api/transactions?account_id=&limit=&cursor=
// newest first; next_cursor ("" on the last page) fetches the next page.
// Customers see postings touching their own accounts only.
func (s *Server) listTransactions(r *tenantRequest) error {
	account, _, err := r.queryInt64("account_id")
	if err != nil {
		return err
	}
	limit, _, err := r.queryInt64("limit")
	if err != nil {
		return err
	}
	page, err := r.store().ListTransactions(r.c, bank.TransactionQuery{
		AccountID:   account,
		OwnerUserID: r.ownerScope(),
		Limit:       int(min(limit, bank.MaxPageSize)),
		Cursor:      string(r.ctx.QueryArgs().Peek("cursor")),
	})
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, page)
	return nil
}

// createTransaction answers POST /api/transactions
// {"type","account_id","to_account_id"?,"amount","description"?} → 201
// {"transaction":{...},"balance":N}. With an Idempotency-Key header a retry
// returns the first result (with Idempotent-Replayed: true) and never posts
// twice; the same key with a different body → 409.
func (s *Server) createTransaction(r *tenantRequest) error {
	var p bank.Posting
	if err := decodeJSON(r.ctx, &p); err != nil {
		return err
	}
	res, err := r.store().Post(r.c, p, bank.PostOptions{
		ActorUserID:    max(r.claims.User(), 0),
		OwnerUserID:    r.ownerScope(),
		IdempotencyKey: string(r.ctx.Request.Header.PeekBytes(headerIdempotencyKey)),
	})
	if err != nil {
		return err
	}
	if res.Replayed {
		r.ctx.Response.Header.Set("Idempotent-Replayed", "true")
	}
	writeJSON(r.ctx, http.StatusCreated, res)
	return nil
}
