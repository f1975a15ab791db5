package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/storage"
)

// Error is an error with the status and message the client sees
// (httpapi.Error, shared with the handler packages).
type Error = httpapi.Error

// Errors with the contract's exact messages.
var (
	errTenantNotFound = &Error{Status: http.StatusNotFound, Message: "Tenant not found"}
	errNotFound       = httpapi.ErrNotFound
	errMethod         = httpapi.ErrMethod
	errSuspended      = &Error{Status: http.StatusForbidden, Message: "Tenant suspended"}
	errDemoExpired    = &Error{Status: http.StatusGone, Message: "Demo expired"}
	errUnavailable    = httpapi.ErrUnavailable
	errQuotaExceeded  = &Error{Status: http.StatusForbidden, Message: "Storage quota exceeded"}
)

// tenantError maps the tenant service's refusals: the one place a
// *tenants.ValidationError becomes a 400 with fields, and a taken host or
// domain a 409.
func tenantError(err error) *Error {
	var verr *tenants.ValidationError
	var pub *httpapi.PublicError
	public := errors.As(err, &pub)
	switch {
	case errors.As(err, &verr):
		if !public {
			return httpapi.BadRequest("Invalid tenant", verr.Fields)
		}
		fields := make(map[string]string, len(verr.Fields))
		for k, v := range verr.Fields {
			if k == "host" {
				k = "subdomain"
			}
			fields[k] = v
		}
		return httpapi.BadRequest("Invalid "+pub.Request, fields)
	case errors.Is(err, catalog.ErrHostTaken) && public:
		return &Error{Status: http.StatusConflict, Message: "Subdomain taken", Fields: map[string]string{"subdomain": "is taken"}}
	case errors.Is(err, catalog.ErrHostTaken):
		return &Error{Status: http.StatusConflict, Message: "Host taken", Fields: map[string]string{"host": "is taken"}}
	case errors.Is(err, catalog.ErrDomainTaken):
		return &Error{Status: http.StatusConflict, Message: "Custom domain taken", Fields: map[string]string{"custom_domain": "is taken"}}
	case errors.Is(err, shard.ErrExists):
		return &Error{Status: http.StatusConflict, Message: "Database already exists", Fields: map[string]string{"db_url": "names an existing file"}}
	}
	return nil
}

// errorFor maps any error to what the client sees. It is the one place
// that knows which failure is which status; unknown errors become a 500
// with a generic message (the detail goes to the log).
func errorFor(err error) *Error {
	var e *Error
	var verr *bank.ValidationError
	if te := tenantError(err); te != nil {
		return te
	}
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
	case errors.Is(err, shard.ErrDiskFull):
		return &Error{Status: http.StatusInsufficientStorage, Message: "Insufficient storage"}
	case errors.Is(err, shard.ErrQuotaExceeded), storage.IsFull(err):
		// The tenant's plan limit, not a server fault: 403, so clients and
		// alerts do not treat it as an outage to retry. Reads go on.
		return errQuotaExceeded
	case errors.Is(err, shard.ErrBusy):
		// Every open database is pinned by work in progress: it frees soon.
		return &Error{Status: http.StatusServiceUnavailable, Message: "Tenant unavailable", Retry: 1}
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
	case errors.Is(err, bank.ErrUserDisabled):
		return &Error{Status: http.StatusForbidden, Message: "Account disabled"}
	case errors.Is(err, bank.ErrLastAdmin):
		return &Error{Status: http.StatusConflict, Message: "The last active admin cannot be disabled or demoted"}
	case errors.Is(err, bank.ErrAccountClosed):
		return &Error{Status: http.StatusUnprocessableEntity, Message: "Account closed"}
	case errors.Is(err, bank.ErrBalanceNotZero):
		return &Error{Status: http.StatusUnprocessableEntity, Message: "Account balance must be zero to close it"}
	case errors.Is(err, bank.ErrSecondFactorRequired):
		return &Error{Status: http.StatusUnauthorized, Message: "Second factor required", Fields: map[string]string{"code": "is required"}}
	case errors.Is(err, bank.ErrSecondFactorInvalid):
		return &Error{Status: http.StatusUnauthorized, Message: "Invalid second factor code", Fields: map[string]string{"code": "is wrong, expired or already used"}}
	case errors.Is(err, bank.ErrSecondFactorEnrolled):
		return &Error{Status: http.StatusConflict, Message: "Second factor already enabled"}
	case errors.Is(err, bank.ErrSecondFactorNotEnrolled):
		return &Error{Status: http.StatusConflict, Message: "Start second factor enrolment first"}
	case errors.Is(err, bank.ErrBusy):
		return &Error{Status: http.StatusServiceUnavailable, Message: "Tenant unavailable", Retry: 1}
	case errors.Is(err, bank.ErrRefused):
		return &Error{Status: http.StatusServiceUnavailable, Message: "Tenant unavailable"}
	case errors.As(err, &verr):
		return httpapi.BadRequest("Invalid request", verr.Fields)
	case storage.IsFenced(err):
		// The tenant is moving to another shard: writes pause briefly.
		return &Error{Status: http.StatusServiceUnavailable, Message: "Tenant unavailable", Retry: 1}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Message: "Request timed out"}
	case storage.IsUnreachable(err), storage.IsServerUnavailable(err):
		// A remote tenant's libSQL server did not answer, hung up or shed
		// the request; or the tenant's file cannot be written just now.
		return &Error{Status: http.StatusServiceUnavailable, Message: "Tenant unavailable", Retry: 1}
	}
	return &Error{Status: http.StatusInternalServerError, Message: "Internal error"}
}

// writeError answers with the JSON error body and logs server-side faults.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, err error) {
	e := errorFor(err)
	if e.Status >= 500 {
		s.log.Error("request failed", "request_id", httpapi.RequestID(ctx), "client", s.clientAddr(ctx).String(), "host", string(ctx.Host()),
			"path", string(ctx.Path()), "status", e.Status, "err", err)
	} else if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("request refused", "request_id", httpapi.RequestID(ctx), "status", e.Status, "err", err)
	}
	if e.Retry > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(e.Retry))
	}
	if p, ok := s.pageFor(e); ok && wantsHTML(ctx) {
		writeErrorPage(ctx, e.Status, p)
		return
	}
	body := struct {
		Error  string            `json:"error"`
		Fields map[string]string `json:"fields,omitempty"`
	}{e.Message, e.Fields}
	httpapi.WriteJSON(ctx, e.Status, body)
}
