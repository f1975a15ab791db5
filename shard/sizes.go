package shard

import "os"

// FileSize is the bytes a local tenant database has on disk.
type FileSize struct {
	DB  int64 // the database file
	WAL int64 // its write-ahead log (0 when there is none)
}

// FileSizes stats the files of the tenants ids (their open database's
// path, or the default local path when closed; a tenant with no local file,
// such as a remote one, is left out of each) and sums the files of every
// other open local database into other. It costs two stat calls per
// database and takes the manager's lock only to copy the paths, so it is
// meant for scrapes, not the request path.
func (m *Manager) FileSizes(ids []int64) (each map[int64]FileSize, other FileSize) {
	type target struct {
		id   int64
		path string
	}
	var open []target
	m.mu.Lock()
	for id, e := range m.entries {
		if e.path != "" && !e.evicted {
			open = append(open, target{id, e.path})
		}
	}
	m.mu.Unlock()
	paths := make(map[int64]string, len(ids))
	for _, id := range ids {
		paths[id] = m.Path(id)
	}
	for _, t := range open {
		if _, ok := paths[t.id]; ok {
			paths[t.id] = t.path // opened from a custom file URL
			continue
		}
		if fs, ok := statDB(t.path); ok {
			other.DB += fs.DB
			other.WAL += fs.WAL
		}
	}
	each = make(map[int64]FileSize, len(ids))
	for id, path := range paths {
		if fs, ok := statDB(path); ok {
			each[id] = fs
		}
	}
	return each, other
}

// statDB reports a database file's size and its WAL's; ok is false when the
// database file does not exist.
func statDB(path string) (FileSize, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileSize{}, false
	}
	fs := FileSize{DB: fi.Size()}
	if wi, err := os.Stat(path + "-wal"); err == nil {
		fs.WAL = wi.Size()
	}
	return fs, true
}
