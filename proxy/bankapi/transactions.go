package bankapi

import (
	"bytes"
	"net/http"

	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/shard/bank"
)

var headerIdempotencyKey = []byte("Idempotency-Key")

// listTransactions answers GET /api/transactions?account_id=&limit=&cursor=
// newest first; next_cursor ("" on the last page) fetches the next page.
// Customers see postings touching their own accounts only.
func (s *API) ListTransactions(r *httpapi.Request) error {
	account, _, err := r.QueryInt64("account_id")
	if err != nil {
		return err
	}
	limit, _, err := r.QueryInt64("limit")
	if err != nil {
		return err
	}
	page, err := r.Store().ListTransactions(r.C, bank.TransactionQuery{
		AccountID:   account,
		OwnerUserID: ownerScope(r),
		Limit:       int(min(limit, bank.MaxPageSize)),
		Cursor:      string(r.Ctx.QueryArgs().Peek("cursor")),
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, page)
	return nil
}

// createTransaction answers POST /api/transactions
// {"type","account_id","to_account_id"?,"amount","description"?} → 201
// {"transaction":{...},"balance":N}. With an Idempotency-Key header a retry
// returns the first result (with Idempotent-Replayed: true) and never posts
// twice; the same key with a different body → 409.
func (s *API) CreateTransaction(r *httpapi.Request) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var p bank.Posting
	if err := httpapi.DecodeJSON(r.Ctx, &p); err != nil {
		return err
	}
	res, err := r.Store().Post(r.C, p, bank.PostOptions{
		ActorUserID:    max(r.Claims.User(), 0),
		OwnerUserID:    ownerScope(r),
		IdempotencyKey: key,
	})
	if err != nil {
		return err
	}
	if res.Replayed {
		r.Ctx.Response.Header.Set("Idempotent-Replayed", "true")
	}
	httpapi.WriteJSON(r.Ctx, http.StatusCreated, res)
	return nil
}

// idempotencyKey reads the Idempotency-Key header. Given twice, even with
// the same value, or given empty, it is refused: a client that sent it
// meant to be protected, and picking one key (or none) would post without
// the protection it asked for.
func idempotencyKey(r *httpapi.Request) (string, error) {
	vals := r.Ctx.Request.Header.PeekAll(string(headerIdempotencyKey))
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1:
		return "", httpapi.BadRequest("Idempotency-Key must be given once", map[string]string{"Idempotency-Key": "must be given once"})
	case len(bytes.TrimSpace(vals[0])) == 0:
		return "", httpapi.BadRequest("Idempotency-Key must not be empty", map[string]string{"Idempotency-Key": "must not be empty"})
	}
	return string(vals[0]), nil
}
