package shard

import (
	"errors"

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
)
