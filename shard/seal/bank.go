package seal

import (
	"strings"

	"modernc.org/sqlite"

	"github.com/microfi/tenantgate/migrations"
)

// BankAuthorizer is the authorizer of the bank API's connections. The bank
// runs only tenantgate's own SQL, on managed tables; anything else it would
// compile came from a tenant's object, so it is refused:
//
//   - an action from a trigger or view that tenantgate did not create;
//   - a read or write of a table that is not managed (a foreign-key action
//     cascading into a tenant's table shows up as such a write);
//   - schema changes, ATTACH and extension loading (migrations and repairs
//     run on a separate maintenance connection).
//
// Refusals fail the statement: a posting fails rather than bend the ledger.
func BankAuthorizer(action sqlite.AuthorizerActionCode, a1, a2, db, via string) sqlite.AuthorizerReturnCode {
	m := migrations.TenantManaged
	if via != "" && !m.Object(via) {
		return sqlite.AuthorizerDeny
	}
	switch action {
	case sqlite.AuthRead, sqlite.AuthInsert, sqlite.AuthUpdate, sqlite.AuthDelete:
		if m.Table(a1) || strings.HasPrefix(strings.ToLower(a1), "sqlite_") {
			return sqlite.AuthorizerOK
		}
		return sqlite.AuthorizerDeny
	case sqlite.AuthFunction:
		if deniedFunctions[strings.ToLower(a2)] {
			return sqlite.AuthorizerDeny
		}
		return sqlite.AuthorizerOK
	case sqlite.AuthPragma:
		// The storage quota is set when a connection opens, before this
		// authorizer; nothing may raise it afterwards.
		if strings.EqualFold(a1, "max_page_count") && a2 != "" {
			return sqlite.AuthorizerDeny
		}
		return sqlite.AuthorizerOK
	case sqlite.AuthSelect, sqlite.AuthTransaction, sqlite.AuthSavepoint, sqlite.AuthRecursive:
		return sqlite.AuthorizerOK
	}
	return sqlite.AuthorizerDeny
}

var deniedFunctions = map[string]bool{"load_extension": true, "fts3_tokenizer": true}
