package shard

import (
	"errors"
	"fmt"

	"github.com/microfi/tenantgate/shard/storage"
)

// Errors returned by the shard manager. Every reason a tenant database
// cannot be served wraps ErrUnavailable, so callers map one error to 503.
var (
	ErrUnavailable   = errors.New("tenant database unavailable")
	ErrStampMismatch = storage.ErrStampMismatch
	ErrSchemaAhead   = errors.New("tenant schema newer than this binary")
	ErrNotFound      = errors.New("tenant database not found")
	ErrExists        = errors.New("tenant database already exists")
	ErrClosed        = errors.New("shard manager closed")
	// ErrBusy: retry shortly. Every open database is pinned (or the fd
	// budget is spent) and none was released within PinWait, or the
	// manager shed the open (ErrOverloaded).
	ErrBusy = fmt.Errorf("%w: busy", ErrUnavailable)
	// ErrOverloaded: too many tenant databases are opening at once; the
	// open was shed without waiting long (Config.OpenQueue).
	ErrOverloaded = fmt.Errorf("%w: too many tenant databases opening at once", ErrBusy)
)
