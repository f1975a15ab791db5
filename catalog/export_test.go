package catalog

import "database/sql"

// LookupStats is the state of the pool that loads cache misses.
func (c *Catalog) LookupStats() sql.DBStats { return c.lookups.Stats() }
