// Package shards is the shard registry: the rules of what a shard is
// (rules.go), where a new tenant goes (place.go), and how a tenant database
// is created and removed on each kind of shard (remote.go). The tenant
// service (catalog/tenants) calls it for every create and move, so the CLI,
// signup, demos and the admin API place tenants by one policy.
//
// A shard is a libSQL server, or a URL template on one, that hosts many
// tenant databases:
//
//   - local: the files under the data dir (implicit, always registered);
//   - tenantgate: another tenantgate serving its own tenants over Hrana; a
//     tenant database is created and removed through its admin API, with
//     the shard token carried in the template's authToken;
//   - sqld: sqld with namespaces; a database is a namespace created and
//     deleted on sqld's admin URL;
//   - libsql: a server where each tenant's database exists already (a
//     Turso database per tenant created by the operator's tooling); it is
//     migrated and stamped in place.
package shards

import (
	"net/http"
	"time"

	"github.com/microfi/tenantgate/catalog"
)

// Kinds of shard.
const (
	KindLocal      = "local"
	KindTenantgate = "tenantgate"
	KindSQLD       = "sqld"
	KindLibSQL     = "libsql"
)

// Registry places tenants on shards and creates their databases there. It
// holds nothing open beyond an HTTP client.
type Registry struct {
	cat    *catalog.Catalog
	client *http.Client
}

// New returns a Registry over the catalog's shards table.
func New(cat *catalog.Catalog) *Registry {
	return &Registry{cat: cat, client: &http.Client{Timeout: 30 * time.Second}}
}

// Catalog is the catalog the registry reads.
func (r *Registry) Catalog() *catalog.Catalog { return r.cat }
