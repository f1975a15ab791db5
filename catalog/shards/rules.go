package shards

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/storage"
)

// ValidationError is a shard refused by the rules, one message per field
// (name, kind, url_template, admin_url, capacity, weight).
type ValidationError struct{ Fields map[string]string }

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid shard: ")
	for i, k := range slices.Sorted(maps.Keys(e.Fields)) {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k + " " + e.Fields[k])
	}
	return b.String()
}

// Template placeholders: a tenant's id and host label.
const (
	PlaceholderID   = "{id}"
	PlaceholderHost = "{host}"
)

// Check normalises sh (defaults: kind tenantgate, weight 1; a derived admin
// URL for a tenantgate shard) and returns a *ValidationError or nil.
func Check(sh *catalog.Shard) error {
	p := map[string]string{}
	sh.Name = strings.TrimSpace(sh.Name)
	sh.URLTemplate = strings.TrimSpace(sh.URLTemplate)
	sh.AdminURL = strings.TrimSpace(sh.AdminURL)
	if sh.Kind == "" {
		sh.Kind = KindTenantgate
	}
	switch {
	case sh.Name == "":
		p["name"] = "is required"
	case sh.Name == catalog.LocalShard:
		p["name"] = "local is the implicit shard of the data dir and is always registered"
	case len(sh.Name) > 40 || !catalog.ValidLabel(sh.Name) || sh.Name != strings.ToLower(sh.Name):
		p["name"] = "must be 1–40 of a-z, 0-9 and '-' (a DNS label)"
	}
	switch sh.Kind {
	case KindTenantgate, KindSQLD, KindLibSQL:
	default:
		p["kind"] = "must be tenantgate, sqld or libsql"
	}
	if msg := templateProblem(sh.URLTemplate); msg != "" {
		p["url_template"] = msg
	}
	if sh.Kind == KindTenantgate && sh.AdminURL == "" && p["url_template"] == "" {
		sh.AdminURL = deriveAdminURL(sh.URLTemplate)
	}
	if sh.Kind == KindTenantgate && token(sh.URLTemplate) == "" && p["url_template"] == "" {
		p["url_template"] = "must carry the shard's token as ?authToken=… (tenantgate token --role shard on the shard)"
	}
	switch {
	case sh.Kind == KindSQLD && sh.AdminURL == "":
		p["admin_url"] = "is required for a sqld shard (its admin listener, for namespace create/delete)"
	case sh.AdminURL != "":
		if u, err := url.Parse(sh.AdminURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p["admin_url"] = "must be an http:// or https:// URL"
		}
	}
	if sh.Capacity < 0 {
		p["capacity"] = "must be 0 (unlimited) or more"
	}
	if sh.Weight < 0 || sh.Weight > 1000 {
		p["weight"] = "must be between 0 and 1000"
	}
	if len(p) > 0 {
		return &ValidationError{Fields: p}
	}
	return nil
}

// templateProblem checks a URL template: a libSQL server URL naming each
// tenant's database by {id} or {host}.
func templateProblem(t string) string {
	switch {
	case t == "":
		return "is required"
	case !strings.Contains(t, PlaceholderID) && !strings.Contains(t, PlaceholderHost):
		return "must contain {id} or {host}, so each tenant gets its own database"
	}
	u, err := url.Parse(Expand(t, 1, "acme"))
	if err != nil || u.Host == "" {
		return "must be a libsql://, https:// or http:// URL"
	}
	if !storage.IsRemote(u.String()) {
		return "must be a libsql://, https:// or http:// URL"
	}
	return ""
}

// Expand fills a template for one tenant.
func Expand(template string, id int64, host string) string {
	r := strings.NewReplacer(PlaceholderID, strconv.FormatInt(id, 10), PlaceholderHost, host)
	return r.Replace(template)
}

// deriveAdminURL is where a tenantgate shard's admin API is, from its
// template: the tenant host replaced by "admin" and the query dropped. It
// covers both shapes a tenantgate shard is reached by:
// https://{host}.shard1.example → https://admin.shard1.example, and the
// loopback path prefix http://127.0.0.1:9001/t/{host}/ →
// http://127.0.0.1:9001/t/admin/.
func deriveAdminURL(template string) string {
	u, err := url.Parse(Expand(template, 0, "admin"))
	if err != nil {
		return ""
	}
	u.RawQuery = ""
	u.Scheme = httpScheme(u)
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String()
}

// httpScheme maps libsql:// to the HTTP scheme it stands for (?tls=0 is
// plain HTTP, as libsql-client-go reads it).
func httpScheme(u *url.URL) string {
	if u.Scheme != "libsql" {
		return u.Scheme
	}
	if u.Query().Get("tls") == "0" {
		return "http"
	}
	return "https"
}

// token is the template's authToken.
func token(template string) string {
	u, err := url.Parse(Expand(template, 0, "admin"))
	if err != nil {
		return ""
	}
	return u.Query().Get("authToken")
}

// Redact hides a template's or URL's credentials for display.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return raw
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "authToken") || strings.EqualFold(k, "jwt") {
			q.Set(k, "REDACTED")
		}
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	u.RawQuery = q.Encode()
	return strings.NewReplacer("%7B", "{", "%7D", "}").Replace(u.String())
}

// Add validates and registers a shard.
func (r *Registry) Add(ctx context.Context, sh catalog.Shard) (catalog.Shard, error) {
	if err := Check(&sh); err != nil {
		return catalog.Shard{}, err
	}
	return r.cat.AddShard(ctx, sh)
}

// Drain stops placing new tenants on a shard (moving its tenants off is
// catalog/tenants' DrainShard).
func (r *Registry) Drain(ctx context.Context, name string) (catalog.Shard, error) {
	return r.cat.SetShardStatus(ctx, name, catalog.ShardDraining)
}

// Resume makes a drained shard take new tenants again.
func (r *Registry) Resume(ctx context.Context, name string) (catalog.Shard, error) {
	return r.cat.SetShardStatus(ctx, name, catalog.ShardActive)
}

// Remove unregisters a shard that holds no tenant.
func (r *Registry) Remove(ctx context.Context, name string) error {
	return r.cat.RemoveShard(ctx, name)
}

// Get returns a registered shard.
func (r *Registry) Get(ctx context.Context, name string) (catalog.Shard, error) {
	return r.cat.GetShard(ctx, name)
}

// URLFor is a tenant's database URL on sh: "" on the local shard (the
// default file under the data dir).
func URLFor(sh catalog.Shard, id int64, host string) string {
	if sh.Name == catalog.LocalShard {
		return ""
	}
	return Expand(sh.URLTemplate, id, host)
}
