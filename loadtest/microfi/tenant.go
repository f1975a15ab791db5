package microfi

import (
	"strconv"

	"github.com/microfi/tenantgate/loadtest"
)

// Tenant is one provisioned tenant as the harness sees it.
type Tenant struct {
	ID           int64   // catalog id (the tokens' tenant_id)
	Sub          string  // host label, e.g. lt3fa2-00001
	Host         string  // full Host header, e.g. lt3fa2-00001.microfi.localhost
	Token        string  // token for the API scenarios (role staff)
	ServiceToken string  // token for SQL over Hrana (role service)
	AdminToken   string  // token used during setup (role admin)
	UserID       int64   // the staff user that logs in
	Email        string  // login e-mail of that user
	Password     string  // login password of that user
	Accounts     []int64 // account ids, all funded
	Currency     string  // the accounts' currency (bank.CurrencyFor the tenant's country)

	authz, svcAuthz []byte // "Bearer <token>" header values
}

// clientAddr is the address the harness claims for this tenant's users
// (10.0.0.0/8, one per tenant), sent as X-Forwarded-For.
func (t *Tenant) clientAddr() string {
	return "10." + strconv.FormatInt(t.ID>>16&255, 10) + "." + strconv.FormatInt(t.ID>>8&255, 10) + "." + strconv.FormatInt(t.ID&255, 10)
}

// account picks one of t's accounts.
func (t *Tenant) account(v *loadtest.VU) int64 {
	return t.Accounts[v.Rng.IntN(len(t.Accounts))]
}

// prepare precomputes the tenant's header values.
func (t *Tenant) prepare() {
	t.authz = []byte("Bearer " + t.Token)
	t.svcAuthz = []byte("Bearer " + t.ServiceToken)
}
