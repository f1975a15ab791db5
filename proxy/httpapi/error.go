package httpapi

import "net/http"

// Error is an error with the status and message the client sees. proxy's
// error mapping (error.go) passes it through unchanged.
type Error struct {
	Status  int
	Message string
	Fields  map[string]string // validation errors per field, optional
	Retry   int               // Retry-After seconds, for 429
}

func (e *Error) Error() string { return e.Message }

// Errors with the contract's exact messages, shared by every door.
var (
	ErrNotFound    = &Error{Status: http.StatusNotFound, Message: "Not found"}
	ErrMethod      = &Error{Status: http.StatusMethodNotAllowed, Message: "Method not allowed"}
	ErrUnavailable = &Error{Status: http.StatusServiceUnavailable, Message: "Tenant unavailable"}
)

// BadRequest is a 400 with an optional per-field explanation.
func BadRequest(msg string, fields map[string]string) *Error {
	return &Error{Status: http.StatusBadRequest, Message: msg, Fields: fields}
}

// TooManyRequests is the contract's 429 with Retry-After.
func TooManyRequests(retrySeconds int) *Error {
	return &Error{Status: http.StatusTooManyRequests, Message: "Too many requests", Retry: max(retrySeconds, 1)}
}

// PublicError marks a tenant-service error from a public-site request, so
// the edge's error mapping words it in that request's terms: "Invalid
// signup" or "Invalid demo", and the host is the signup's "subdomain".
type PublicError struct {
	Request string // "signup" or "demo"
	Err     error
}

func (e *PublicError) Error() string { return e.Err.Error() }
func (e *PublicError) Unwrap() error { return e.Err }
