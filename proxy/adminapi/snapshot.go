package adminapi

import (
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy/httpapi"

	"github.com/microfi/tenantgate/shard/move"
	"github.com/microfi/tenantgate/shard/storage"
)

// adminSnapshotSuffix ends GET /api/admin/tenants/{id}/snapshot: a
// transactionally consistent copy of a local tenant database (SQLite
// file, VACUUM INTO), for a front proxy moving the tenant off this
// tenantgate shard (catalog/shards FetchSnapshot). POST with the sums of
// the front's last copy (move.Sums, JSON) answers a partial snapshot
// instead: only the ranges that differ (move.Partial), so the fenced
// step of a move carries the delta, not the database. Shard and platform
// tokens only.
const adminSnapshotSuffix = "/snapshot"

func (s *API) adminSnapshotRoute(ctx *fasthttp.RequestCtx, method, rawID string) error {
	if method != "GET" && method != "POST" {
		ctx.Response.Header.Set("Allow", "GET, POST")
		return httpapi.ErrMethod
	}
	var sums *move.Sums
	if method == "POST" {
		sums = &move.Sums{}
		if err := httpapi.DecodeJSON(ctx, sums); err != nil {
			return err
		}
	}
	id, err := strconv.ParseInt(rawID, 10, 64)
	if err != nil || id <= 0 {
		return httpapi.BadRequest("Invalid tenant id: must be a positive integer", map[string]string{"id": "must be a positive integer"})
	}
	c, cancel := s.requestContext()
	defer cancel()
	t, err := s.catalog.Get(c, id)
	if err != nil {
		return err
	}
	url := s.shards.URL(t.ID, t.DBURL)
	if storage.IsRemote(url) {
		return httpapi.ErrNotFound // only this server's own files
	}
	f, err := os.CreateTemp("", "tenantgate-snapshot-*.db")
	if err != nil {
		return err
	}
	path := f.Name()
	f.Close()
	if sums != nil {
		_, err = move.Partial(c, url, *sums, path)
	} else {
		err = move.Snapshot(c, url, path)
	}
	if err != nil {
		storage.RemoveFiles(path)
		return err
	}
	f, err = os.Open(path)
	storage.RemoveFiles(path) // the open file lives on until it is sent
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	ctx.SetStatusCode(http.StatusOK)
	ctx.SetContentType("application/vnd.sqlite3")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyStream(f, int(fi.Size())) // fasthttp closes f once sent
	return nil
}

// ShardPath reports what a front proxy's shard token may do here: create,
// read and delete tenants and take a tenant's snapshot (catalog/shards).
func ShardPath(path string) bool {
	rest, ok := strings.CutPrefix(path, adminTenantsPath)
	rest = strings.TrimSuffix(rest, adminSnapshotSuffix)
	return ok && (rest == "" || (strings.HasPrefix(rest, "/") && !strings.Contains(rest[1:], "/")))
}
