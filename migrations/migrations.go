// Package migrations holds the versioned SQL schemas of the catalog and of
// tenant databases, embedded in the binary, and applies them.
//
// Each file is named NNNN_name.sql. A database records every applied file
// (version, name, checksum) in schema_migrations; each file runs in its own
// transaction, so a database is write-locked only for its own few
// milliseconds and a crash leaves it on a whole version.
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
		})
	}
	return set, nil
}
