//go:build tenantgate_schema_ahead

package migrations

import (
	"embed"
	"fmt"
)

// A binary built with -tags tenantgate_schema_ahead is one tenant schema
// version ahead of the same source built without it: the tests build one
// to run `migrate` and older proxies side by side as separate processes.
// The production binary has none of this (no tag, no embedded files).
//
// aheadKind (set with -ldflags -X) chooses what it adds: "expand" is one
// expand-only migration (Latest+1); "contract" is that one and, after it,
// one that is not expand-only (Latest+2).

//go:embed testdata/ahead/*.sql
var aheadFiles embed.FS

var aheadKind = "expand"

func init() {
	var extra []Migration
	for i, kind := range []string{"expand", "contract"} {
		body, err := aheadFiles.ReadFile("testdata/ahead/" + kind + ".sql")
		if err != nil {
			panic(err)
		}
		extra = append(extra, Migration{Version: Tenant.Latest() + 1 + i, Name: "ahead_" + kind,
			SQL: string(body), ExpandOnly: declaresExpandOnly(string(body))})
		if kind == aheadKind {
			Tenant = Tenant.With(extra...)
			return
		}
	}
	panic(fmt.Sprintf("migrations: unknown aheadKind %q", aheadKind))
}
