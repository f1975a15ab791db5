package proxy

import (
	"bytes"
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
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var p bank.Posting
	if err := decodeJSON(r.ctx, &p); err != nil {
		return err
	}
	res, err := r.store().Post(r.c, p, bank.PostOptions{
		ActorUserID:    max(r.claims.User(), 0),
		OwnerUserID:    r.ownerScope(),
		IdempotencyKey: key,
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

// idempotencyKey reads the Idempotency-Key header. Given twice, even with
// the same value, or given empty, it is refused: a client that sent it
// meant to be protected, and picking one key (or none) would post without
// the protection it asked for.
func idempotencyKey(r *tenantRequest) (string, error) {
	vals := r.ctx.Request.Header.PeekAll(string(headerIdempotencyKey))
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1:
		return "", badRequest("Idempotency-Key must be given once", map[string]string{"Idempotency-Key": "must be given once"})
	case len(bytes.TrimSpace(vals[0])) == 0:
		return "", badRequest("Idempotency-Key must not be empty", map[string]string{"Idempotency-Key": "must not be empty"})
	}
	return string(vals[0]), nil
}
