package shards

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/move"
)

// ErrShardRefused wraps a shard's refusal to create or remove a database.
var ErrShardRefused = errors.New("shard refused")

// CreateDatabase makes the empty database of tenant t exist on sh, before
// the tenant service migrates, stamps and seeds it over libSQL. It is
// idempotent: a database this tenant already has there (an earlier,
// interrupted attempt) is fine.
//
//   - tenantgate: POST /api/admin/tenants on the shard's admin API with the
//     same id and host, as the shard token; the shard provisions, migrates
//     and stamps its own file.
//   - sqld: POST /v1/namespaces/<ns>/create on its admin URL, where <ns> is
//     the first label of the tenant URL's host (how sqld picks a namespace).
//   - libsql: nothing; the database must exist.
func (r *Registry) CreateDatabase(ctx context.Context, sh catalog.Shard, t catalog.Tenant) error {
	switch sh.Kind {
	case KindTenantgate:
		body, _ := json.Marshal(map[string]any{"id": t.ID, "host": t.Host, "name": t.Name,
			"country": t.CountryCode, "subscription_plan": t.Plan})
		status, resp, err := r.call(ctx, sh, "POST", "api/admin/tenants", body)
		if err != nil {
			return err
		}
		if status == http.StatusCreated {
			return nil
		}
		// Taken already: by this tenant (an earlier attempt) is fine.
		if status == http.StatusBadRequest || status == http.StatusConflict {
			if got, gerr := r.remoteTenant(ctx, sh, t.ID); gerr == nil && got.Host == t.Host {
				return nil
			}
		}
		return fmt.Errorf("%w: shard %s: create tenant %d: %d %s", ErrShardRefused, sh.Name, t.ID, status, short(resp))
	case KindSQLD:
		ns, err := namespace(URLFor(sh, t.ID, t.Host))
		if err != nil {
			return err
		}
		status, resp, err := r.call(ctx, sh, "POST", "v1/namespaces/"+url.PathEscape(ns)+"/create", []byte(`{}`))
		if err != nil {
			return err
		}
		if status/100 == 2 || (status == http.StatusConflict || strings.Contains(string(resp), "already exists")) {
			return nil
		}
		return fmt.Errorf("%w: shard %s: create namespace %s: %d %s", ErrShardRefused, sh.Name, ns, status, short(resp))
	}
	return nil
}

// RemoveDatabase removes tenant t's database from sh (a tenantgate shard
// keeps its own backup first). A database already gone is fine.
func (r *Registry) RemoveDatabase(ctx context.Context, sh catalog.Shard, t catalog.Tenant) error {
	var path string
	switch sh.Kind {
	case KindTenantgate:
		path = "api/admin/tenants/" + strconv.FormatInt(t.ID, 10)
	case KindSQLD:
		ns, err := namespace(URLFor(sh, t.ID, t.Host))
		if err != nil {
			return err
		}
		path = "v1/namespaces/" + url.PathEscape(ns)
	default:
		return nil
	}
	status, resp, err := r.call(ctx, sh, "DELETE", path, nil)
	if err != nil {
		return err
	}
	if status/100 == 2 || status == http.StatusNotFound {
		return nil
	}
	return fmt.Errorf("%w: shard %s: remove tenant %d: %d %s", ErrShardRefused, sh.Name, t.ID, status, short(resp))
}

type remoteTenant struct {
	ID   int64  `json:"id"`
	Host string `json:"host"`
}

func (r *Registry) remoteTenant(ctx context.Context, sh catalog.Shard, id int64) (remoteTenant, error) {
	status, body, err := r.call(ctx, sh, "GET", "api/admin/tenants/"+strconv.FormatInt(id, 10), nil)
	if err != nil {
		return remoteTenant{}, err
	}
	if status != http.StatusOK {
		return remoteTenant{}, fmt.Errorf("%w: %d", ErrShardRefused, status)
	}
	var out struct {
		Tenant remoteTenant `json:"tenant"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return remoteTenant{}, fmt.Errorf("shard %s: tenant %d: %w", sh.Name, id, err)
	}
	return out.Tenant, nil
}

// Health is a shard's answer to a probe.
type Health struct {
	OK      bool          `json:"ok"`
	Latency time.Duration `json:"latency_ns"`
	Error   string        `json:"error,omitempty"`
}

// Probe asks a shard whether it answers: a tenantgate shard's admin API
// (GET /api/admin/tenants?limit=1, which also proves the token), sqld's
// and other libSQL servers' GET /health. The local shard is always up.
func (r *Registry) Probe(ctx context.Context, sh catalog.Shard) Health {
	if sh.Name == catalog.LocalShard {
		return Health{OK: true}
	}
	start := time.Now()
	var status int
	var err error
	if sh.Kind == KindTenantgate {
		status, _, err = r.call(ctx, sh, "GET", "api/admin/tenants?limit=1", nil)
	} else {
		status, err = r.get(ctx, healthURL(sh))
	}
	h := Health{Latency: time.Since(start)}
	switch {
	case err != nil:
		h.Error = err.Error()
	case status != http.StatusOK:
		h.Error = "answered " + strconv.Itoa(status)
	default:
		h.OK = true
	}
	return h
}

func healthURL(sh catalog.Shard) string {
	u, err := url.Parse(URLFor(sh, 0, "health"))
	if err != nil {
		return ""
	}
	u.Scheme, u.RawQuery, u.Path = httpScheme(u), "", "/health"
	return u.String()
}

func (r *Registry) get(ctx context.Context, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", ErrShardRefused, redactErr(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// call sends an admin request to a shard with its token and returns the
// status and at most 1 MiB of the body.
func (r *Registry) call(ctx context.Context, sh catalog.Shard, method, path string, body []byte) (int, []byte, error) {
	base := sh.AdminURL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("shard %s: %w", sh.Name, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := token(sh.URLTemplate); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: shard %s unreachable: %s", ErrShardRefused, sh.Name, redactErr(err))
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: shard %s: %w", ErrShardRefused, sh.Name, err)
	}
	return resp.StatusCode, out, nil
}

// namespace is the sqld namespace of a tenant URL: its host's first label.
func namespace(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("no namespace in %q", Redact(raw))
	}
	ns, _, _ := strings.Cut(u.Hostname(), ".")
	return ns, nil
}

func short(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// redactErr keeps URLs with credentials out of error text.
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + Redact(ue.URL) + ": " + ue.Err.Error()
	}
	return err.Error()
}

// FetchSnapshot downloads a consistent copy of tenant id's database from a
// tenantgate shard (GET /api/admin/tenants/{id}/snapshot: VACUUM INTO on
// the shard) into the local file dst: far faster than reading it row by
// row over SQL.
func (r *Registry) FetchSnapshot(ctx context.Context, sh catalog.Shard, id int64, dst string) error {
	return r.fetchSnapshot(ctx, sh, id, nil, dst)
}

// FetchPartial downloads a partial snapshot of tenant id's database from
// a tenantgate shard: only the ranges whose sums differ from have
// (move.Partial; POST .../snapshot with the sums).
func (r *Registry) FetchPartial(ctx context.Context, sh catalog.Shard, id int64, have move.Sums, dst string) error {
	body, err := json.Marshal(have)
	if err != nil {
		return err
	}
	return r.fetchSnapshot(ctx, sh, id, body, dst)
}

func (r *Registry) fetchSnapshot(ctx context.Context, sh catalog.Shard, id int64, sums []byte, dst string) error {
	base := sh.AdminURL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	method, body := "GET", io.Reader(nil)
	if sums != nil {
		method, body = "POST", bytes.NewReader(sums)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"api/admin/tenants/"+strconv.FormatInt(id, 10)+"/snapshot", body)
	if err != nil {
		return err
	}
	if sums != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := token(sh.URLTemplate); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: shard %s unreachable: %s", ErrShardRefused, sh.Name, redactErr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%w: shard %s: snapshot of tenant %d: %d %s", ErrShardRefused, sh.Name, id, resp.StatusCode, short(b))
	}
	tmp := dst + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = checkSQLiteFile(tmp)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("shard %s: snapshot of tenant %d: %w", sh.Name, id, err)
	}
	return os.Rename(tmp, dst)
}

// checkSQLiteFile checks the SQLite header of a downloaded snapshot.
func checkSQLiteFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 16)
	if _, err := io.ReadFull(f, head); err != nil || string(head) != "SQLite format 3\x00" {
		return errors.New("not an SQLite database")
	}
	return nil
}
