package rawsqlite

import (
	"strconv"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"
)

// The PRAGMA table (published in the README, "PRAGMA compatibility").
// Applications issue PRAGMAs when they open a connection; each one here
// either runs, is accepted as a no-op (the authorizer answers
// SQLITE_IGNORE, which compiles the PRAGMA to a statement that does
// nothing and returns no row), or is refused with a message naming the
// PRAGMA and the reason. Only what would weaken durability, isolation or
// the sandbox, or reach past the connection (process-wide limits, files),
// is refused. Reading a setting (no argument) is allowed for every PRAGMA
// in the table that has one.

// pragmaVerdict is what the authorizer does with one PRAGMA.
type pragmaVerdict uint8

const (
	pragmaRun   pragmaVerdict = iota // run it
	pragmaDirty                      // run it; it changes connection state, so the connection is not reused
	pragmaNoop                       // accept it and do nothing
	pragmaDeny                       // refuse it, with the reason
)

// pragmaRule decides a PRAGMA given its argument ("" when it only reads).
type pragmaRule func(arg string) (pragmaVerdict, string)

// Rules shared by several PRAGMAs.
var (
	readOnly = func(why string) pragmaRule {
		return func(arg string) (pragmaVerdict, string) {
			if arg == "" {
				return pragmaRun, ""
			}
			return pragmaDeny, why
		}
	}
	takesName   pragmaRule = func(string) (pragmaVerdict, string) { return pragmaRun, "" }
	connSetting pragmaRule = func(arg string) (pragmaVerdict, string) {
		if arg == "" {
			return pragmaRun, ""
		}
		return pragmaDirty, ""
	}
	noopSetting = func() pragmaRule {
		return func(arg string) (pragmaVerdict, string) {
			if arg == "" {
				return pragmaRun, ""
			}
			return pragmaNoop, ""
		}
	}
	dbSetting pragmaRule = func(string) (pragmaVerdict, string) { return pragmaRun, "" }
	refused              = func(why string) pragmaRule {
		return func(string) (pragmaVerdict, string) { return pragmaDeny, why }
	}
)

// Bounds of the PRAGMAs accepted within limits.
const (
	maxCacheBytes = 64 << 20  // cache_size: memory per connection
	maxMmapBytes  = 256 << 20 // mmap_size: accepted (as a no-op) up to this
	cachePageSize = 4096      // tenant databases' page size, for cache_size in pages
)

var pragmas = map[string]pragmaRule{
	// Schema and diagnostics: read, some with a table or index name.
	"collation_list": takesName, "compile_options": takesName, "data_version": takesName,
	"foreign_key_check": takesName, "foreign_key_list": takesName,
	"freelist_count": takesName, "function_list": takesName, "index_info": takesName,
	"index_list": takesName, "index_xinfo": takesName, "integrity_check": takesName,
	"module_list": takesName, "optimize": takesName, "page_count": takesName, "pragma_list": takesName,
	"quick_check": takesName, "table_info": takesName, "table_list": takesName, "table_xinfo": takesName,
	"shrink_memory": takesName, "incremental_vacuum": takesName,

	// Per-connection settings a tenant may change: the connection is
	// closed instead of being reused by another stream.
	"foreign_keys": connSetting, "recursive_triggers": connSetting, "automatic_index": connSetting,
	"case_sensitive_like": connSetting, "query_only": connSetting, "reverse_unordered_selects": connSetting,
	"secure_delete": connSetting, "cell_size_check": connSetting, "analysis_limit": connSetting,
	"cache_spill": connSetting, "legacy_alter_table": connSetting,
	"defer_foreign_keys": dbSetting, // lasts until the transaction ends
	"user_version":       dbSetting, "application_id": dbSetting,
	"cache_size": cacheSize,

	// Accepted and ignored: tenantgate keeps its own setting, which the
	// application's value could not improve on.
	"busy_timeout":             noopSetting(), // the proxy's lock wait, bounded by the statement timeout
	"temp_store":               noopSetting(), // temp objects follow the server's setting
	"wal_autocheckpoint":       noopSetting(), // checkpoints are the server's
	"journal_size_limit":       noopSetting(),
	"auto_vacuum":              noopSetting(), // takes effect only with VACUUM, which tenants cannot run
	"page_size":                noopSetting(), // cannot change on a WAL database
	"encoding":                 noopSetting(), // fixed once the database exists
	"mmap_size":                mmapSize,
	"journal_mode":             journalMode,
	"synchronous":              synchronous,
	"locking_mode":             lockingMode,
	"read_uncommitted":         readUncommitted,
	"schema_version":           readOnly("writing the schema cookie corrupts the database"),
	"max_page_count":           readOnly("database size limits are tenantgate's"),
	"writable_schema":          refused("it would let SQL rewrite the schema and escape the tenant sandbox"),
	"trusted_schema":           refused("schema-defined functions stay untrusted in the tenant sandbox"),
	"ignore_check_constraints": refused("CHECK constraints protect the tenant's data"),
	"wal_checkpoint":           refused("checkpoints are run by tenantgate"),
	"hard_heap_limit":          refused("it is a process-wide limit shared by every tenant"),
	"soft_heap_limit":          refused("it is a process-wide limit shared by every tenant"),
	"threads":                  refused("it is a process-wide setting"),
	"temp_store_directory":     refused("it names server files"),
	"data_store_directory":     refused("it names server files"),
}

func journalMode(arg string) (pragmaVerdict, string) {
	switch strings.ToLower(arg) {
	case "", "wal":
		return pragmaRun, "" // already WAL: reports "wal"
	}
	return pragmaDeny, "tenant databases stay in WAL mode (crash safety and concurrent readers)"
}

func synchronous(arg string) (pragmaVerdict, string) {
	switch strings.ToLower(arg) {
	case "":
		return pragmaRun, ""
	case "normal", "1":
		return pragmaNoop, "" // never weaker than what is in force
	case "full", "2", "extra", "3":
		return pragmaDirty, "" // stronger: run it on this connection
	}
	return pragmaDeny, "acknowledged commits must survive a power loss"
}

func lockingMode(arg string) (pragmaVerdict, string) {
	switch strings.ToLower(arg) {
	case "", "normal":
		return pragmaRun, ""
	}
	return pragmaDeny, "an exclusive lock would shut out the tenant's other connections"
}

func readUncommitted(arg string) (pragmaVerdict, string) {
	switch strings.ToLower(arg) {
	case "", "0", "false", "off", "no":
		return pragmaRun, ""
	}
	return pragmaDeny, "transactions stay isolated"
}

// cacheSize accepts a page cache up to maxCacheBytes: a positive value
// counts pages, a negative one KiB.
func cacheSize(arg string) (pragmaVerdict, string) {
	if arg == "" {
		return pragmaRun, ""
	}
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil {
		return pragmaDeny, "its value must be an integer"
	}
	bytes := n * cachePageSize
	if n < 0 {
		bytes = -n * 1024
	}
	if n < -(1<<40) || n > 1<<40 || bytes > maxCacheBytes {
		return pragmaDeny, "the page cache is limited to " + strconv.Itoa(maxCacheBytes>>20) + " MiB per connection"
	}
	return pragmaDirty, ""
}

// mmapSize accepts sizes up to maxMmapBytes as a no-op (tenant
// connections do not memory-map their files).
func mmapSize(arg string) (pragmaVerdict, string) {
	if arg == "" {
		return pragmaRun, ""
	}
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || n < 0 || n > maxMmapBytes {
		return pragmaDeny, "memory-mapped I/O is limited to " + strconv.Itoa(maxMmapBytes>>20) + " MiB"
	}
	return pragmaNoop, ""
}

// authorizePragma applies the PRAGMA table.
func (c *Conn) authorizePragma(name, arg string, deny func(string) int32) int32 {
	rule, ok := pragmas[name]
	if !ok {
		return deny("PRAGMA " + name + " is not allowed")
	}
	verdict, why := rule(arg)
	switch verdict {
	case pragmaDirty:
		c.dirty = true
	case pragmaNoop:
		c.noop = true
		return sqlite3.SQLITE_IGNORE
	case pragmaDeny:
		if arg == "" {
			return deny("PRAGMA " + name + " is not allowed: " + why)
		}
		return deny("PRAGMA " + name + "=" + arg + " is refused: " + why)
	}
	return sqlite3.SQLITE_OK
}
