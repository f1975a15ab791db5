package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
)

// Error is an error with the status and message the client sees.
type Error struct {
	Status  int
	Message string
	Fields  map[string]string // validation errors per field, optional
	Retry   int               // Retry-After seconds, for 429
}

func (e *Error) Error() string { return e.Message }

// Errors with the contract's exact messages.
var (
	errTenantNotFound = &Error{Status: http.StatusNotFound, Message: "Tenant not found"}
	errNotFound       = &Error{Status: http.StatusNotFound, Message: "Not found"}
	errMethod         = &Error{Status: http.StatusMethodNotAllowed, Message: "Method not allowed"}
	errSuspended      = &Error{Status: http.StatusForbidden, Message: "Tenant suspended"}
	errDemoExpired    = &Error{Status: http.StatusGone, Message: "Demo expired"}
	errUnavailable    = &Error{Status: http.StatusServiceUnavailable, Message: "Tenant unavailable"}
)

// badRequest is a 400 with an optional per-field explanation.
func badRequest(msg string, fields map[string]string) *Error {
	return &Error{Status: http.StatusBadRequest, Message: msg, Fields: fields}
}

// tooManyRequests is the contract's 429 with Retry-After.
func tooManyRequests(retrySeconds int) *Error {
	return &Error{Status: http.StatusTooManyRequests, Message: "Too many requests", Retry: max(retrySeconds, 1)}
}

// errorFor maps any error to what the client sees. It is the one place
// that knows which failure is which status; unknown errors become a 500
// with a generic message (the detail goes to the log).
func errorFor(err error) *Error {
	var e *Error
	var verr *bank.ValidationError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrAuthRequired):
		return &Error{Status: http.StatusUnauthorized, Message: "Authentication required"}
	case errors.Is(err, ErrInvalidToken):
		return &Error{Status: http.StatusUnauthorized, Message: "Invalid token"}
	case errors.Is(err, ErrTenantMismatch):
		return &Error{Status: http.StatusUnauthorized, Message: "Tenant mismatch"}
	case errors.Is(err, ErrForbidden):
		return &Error{Status: http.StatusForbidden, Message: "Forbidden"}
	case errors.Is(err, catalog.ErrTenantNotFound):
		return errTenantNotFound
	case errors.Is(err, shard.ErrUnavailable), errors.Is(err, shard.ErrClosed), errors.Is(err, catalog.ErrUnavailable):
		return errUnavailable
	case errors.Is(err, bank.ErrNotFound):
		return errNotFound
	case errors.Is(err, bank.ErrInvalidCredentials):
		return &Error{Status: http.StatusUnauthorized, Message: "Invalid credentials"}
	case errors.Is(err, bank.ErrInsufficientFunds):
		return &Error{Status: http.StatusUnprocessableEntity, Message: "Insufficient funds"}
	case errors.Is(err, bank.ErrCurrencyMismatch):
		return &Error{Status: http.StatusUnprocessableEntity, Message: "Currency mismatch"}
	case errors.Is(err, bank.ErrAccountInactive):
		return &Error{Status: http.StatusUnprocessableEntity, Message: "Account inactive"}
	case errors.Is(err, bank.ErrEmailTaken):
		return &Error{Status: http.StatusConflict, Message: "Email already registered", Fields: map[string]string{"email": "is already registered"}}
	case errors.Is(err, bank.ErrIdempotencyConflict):
		return &Error{Status: http.StatusConflict, Message: "Idempotency key reused with a different request"}
	case errors.Is(err, bank.ErrForbidden):
		return &Error{Status: http.StatusForbidden, Message: "Forbidden"}
	case errors.Is(err, bank.ErrBusy):
		return &Error{Status: http.StatusServiceUnavailable, Message: "Tenant unavailable", Retry: 1}
	case errors.Is(err, bank.ErrRefused):
		return &Error{Status: http.StatusServiceUnavailable, Message: "Tenant unavailable"}
	case errors.As(err, &verr):
		return badRequest("Invalid request", verr.Fields)
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Message: "Request timed out"}
	}
	return &Error{Status: http.StatusInternalServerError, Message: "Internal error"}
}

// writeError answers with the JSON error body and logs server-side faults.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, err error) {
	e := errorFor(err)
	if e.Status >= 500 {
		s.log.Error("request failed", "request_id", requestID(ctx), "host", string(ctx.Host()),
			"path", string(ctx.Path()), "status", e.Status, "err", err)
	} else if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("request refused", "request_id", requestID(ctx), "status", e.Status, "err", err)
	}
	if e.Retry > 0 {
		ctx.Response.Header.Set("Retry-After", itoa(e.Retry))
	}
	body := struct {
		Error  string            `json:"error"`
		Fields map[string]string `json:"fields,omitempty"`
	}{e.Message, e.Fields}
	writeJSON(ctx, e.Status, body)
}
