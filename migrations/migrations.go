// Package migrations holds the versioned SQL schemas of the catalog and of
// tenant databases, embedded in the binary, and applies them.
//
// Each file is named NNNN_name.sql. A database records every applied file
// (version, name, checksum, expand-only) in schema_migrations; each file
// runs in its own transaction, so a database is write-locked only for its
// own few milliseconds and a crash leaves it on a whole version.
//
// A migration whose SQL carries the line
//
//	-- tenantgate:expand-only
//
// only adds (a new tg_ table, index or trigger, a new nullable or defaulted
// column): code written before it keeps working on a database that has it.
// The flag is recorded with the migration in the database itself, so an
// older binary, which has never seen the migration, can still tell that it
// may serve the database (Pending).
package migrations

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed catalog/*.sql tenant/*.sql
var files embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string // hex SHA-256 of SQL
	// ExpandOnly: binaries that predate this migration may serve a
	// database that has it (see the package comment).
	ExpandOnly bool
}

// ExpandOnlyDirective is the line that declares a migration expand-only.
const ExpandOnlyDirective = "-- tenantgate:expand-only"

// declaresExpandOnly reports whether sql has the directive on a line of
// its own (leading comments only: it is a declaration, not prose).
func declaresExpandOnly(sql string) bool {
	for _, line := range strings.Split(sql, "\n") {
		line = strings.TrimSpace(line)
		if line == ExpandOnlyDirective {
			return true
		}
		if line != "" && !strings.HasPrefix(line, "--") {
			return false
		}
	}
	return false
}

// Set is an ordered list of migrations for one kind of database.
type Set struct {
	Name       string
	Migrations []Migration
}

// Catalog is the schema of the tenant catalog.
var Catalog = mustLoad("catalog")

// Tenant is the schema of every tenant database.
var Tenant = mustLoad("tenant")

// Latest is the newest version in the set (0 when empty).
func (s Set) Latest() int {
	if len(s.Migrations) == 0 {
		return 0
	}
	return s.Migrations[len(s.Migrations)-1].Version
}

// ServableBy reports whether a binary whose newest version is have can
// serve a database on version want: it is not newer, or every migration of
// the set after have, up to want, is expand-only.
func (s Set) ServableBy(have, want int) bool {
	for _, m := range s.Migrations {
		if m.Version > have && m.Version <= want && !m.ExpandOnly {
			return false
		}
	}
	return true
}

// Blocking lists the migrations after have, up to want, that are not
// expand-only: the ones an older binary cannot serve.
func (s Set) Blocking(have, want int) []Migration {
	var out []Migration
	for _, m := range s.Migrations {
		if m.Version > have && m.Version <= want && !m.ExpandOnly {
			out = append(out, m)
		}
	}
	return out
}

// Ceiling is the newest version of the set that a binary whose newest
// version is have can serve: have itself, extended through every
// expand-only migration that directly follows it.
func (s Set) Ceiling(have int) int {
	c := have
	for _, m := range s.Migrations {
		if m.Version <= have {
			continue
		}
		if !m.ExpandOnly {
			break
		}
		c = m.Version
	}
	return c
}

// Until returns the set cut after version v.
func (s Set) Until(v int) Set {
	out := Set{Name: s.Name}
	for _, m := range s.Migrations {
		if m.Version <= v {
			out.Migrations = append(out.Migrations, m)
		}
	}
	return out
}

// With returns a copy of the set with extra migrations appended; tests and
// fleet tooling use it to add a migration without touching the embedded ones.
func (s Set) With(extra ...Migration) Set {
	out := Set{Name: s.Name, Migrations: append(append([]Migration(nil), s.Migrations...), extra...)}
	for i := range out.Migrations {
		if out.Migrations[i].Checksum == "" {
			out.Migrations[i].Checksum = Checksum(out.Migrations[i].SQL)
		}
	}
	sort.Slice(out.Migrations, func(i, j int) bool { return out.Migrations[i].Version < out.Migrations[j].Version })
	return out
}

// Checksum is the hex SHA-256 of a migration's SQL text.
func Checksum(sql string) string {
	sum := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(sum[:])
}

func mustLoad(dir string) Set {
	s, err := load(files, dir)
	if err != nil {
		panic(err)
	}
	return s
}

func load(fsys fs.FS, dir string) (Set, error) {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return Set{}, err
	}
	sort.Strings(names)
	set := Set{Name: dir}
	seen := map[int]bool{}
	for _, name := range names {
		base := path.Base(name)
		num, rest, ok := strings.Cut(strings.TrimSuffix(base, ".sql"), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return Set{}, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		if seen[version] {
			return Set{}, fmt.Errorf("migration %s: duplicate version %d", name, version)
		}
		seen[version] = true
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return Set{}, err
		}
		set.Migrations = append(set.Migrations, Migration{
			Version: version, Name: rest, SQL: string(body), Checksum: Checksum(string(body)),
			ExpandOnly: declaresExpandOnly(string(body)),
		})
	}
	return set, nil
}
