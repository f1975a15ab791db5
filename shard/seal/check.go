package seal

import (
	"context"
	"fmt"
	"strings"

	"github.com/microfi/tenantgate/shard/rawsqlite"
)

// Check is the SQL engine's schema check (rawsqlite.Options.SchemaCheck):
// after a statement that created or renamed an object it fails, and so
// undoes that statement, if any foreign object now touches a managed table
// or takes a reserved name.
func Check(c *rawsqlite.Conn) error {
	found, err := Audit(context.Background(), Raw(c))
	if err != nil {
		return fmt.Errorf("schema check: %w", err)
	}
	if len(found) == 0 {
		return nil
	}
	msgs := make([]string, len(found))
	for i, f := range found {
		msgs[i] = f.String()
	}
	return &rawsqlite.Error{Code: rawsqlite.CodeAuth, Msg: "not authorized: " + strings.Join(msgs, "; ")}
}
