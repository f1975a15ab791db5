package bankapi

import (
	"strconv"

	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/shard/bank"
)

// Keyset pages of accounts and users: ?limit=N&cursor=C, where C is the
// previous page's next_cursor (the same name as transactions use), or the
// older ?after_id=ID, which still works. next_cursor is "" on the last page.

// pageArgs reads limit and the cursor (cursor wins over after_id).
func pageArgs(r *httpapi.Request) (limit int, after int64, err error) {
	l, _, err := r.QueryInt64("limit")
	if err != nil {
		return 0, 0, err
	}
	after, _, err = r.QueryInt64("after_id")
	if err != nil {
		return 0, 0, err
	}
	if c := r.Ctx.QueryArgs().Peek("cursor"); len(c) > 0 {
		id, perr := strconv.ParseInt(string(c), 10, 64)
		if perr != nil || id < 0 {
			return 0, 0, httpapi.BadRequest("Invalid cursor: pass the next_cursor of the previous page", map[string]string{"cursor": "is not a cursor from this API"})
		}
		after = id
	}
	limit = int(min(l, bank.MaxPageSize))
	if limit <= 0 {
		limit = bank.DefaultPageSize
	}
	return limit, after, nil
}

// nextCursor is the cursor of the page after one that returned n rows
// whose last id is lastID: "" when the page was not full.
func nextCursor(n, limit int, lastID int64) string {
	if n < limit || n == 0 {
		return ""
	}
	return strconv.FormatInt(lastID, 10)
}
