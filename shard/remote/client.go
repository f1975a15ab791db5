// Package remote speaks Hrana over HTTP to a libSQL server (sqld, Turso,
// or another tenantgate serving its tenants): the transport under SQL
// forwarding for tenants whose database lives on a server. It owns the
// server's address and credential (from the tenant's db_url), protocol
// version probing, streams and their batons and base URLs, and streaming
// cursor bodies. Request and result bodies are Hrana JSON the caller builds
// and decodes: this package moves them and keeps the server's batons to
// itself, so nothing above it can hand a server baton to a client.
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxIdleConnsPerHost = 64
	DefaultProbeTimeout        = 5 * time.Second
	// DefaultMaxResponseBytes bounds a pipeline response read from the
	// server; a bigger one fails the request (ErrTooLarge).
	DefaultMaxResponseBytes = 64 << 20
)

// Options configure a Transport.
type Options struct {
	// MaxIdleConnsPerHost keeps that many keep-alive connections per
	// server.
	MaxIdleConnsPerHost int
	// MaxResponseBytes caps a pipeline response body.
	MaxResponseBytes int64
	// Post, when set, sends pipeline requests (the hot path) instead of
	// net/http: the proxy plugs in its own HTTP client, which does the
	// round trip on the calling goroutine with pooled buffers. Cursors and
	// probes stay on net/http (they stream or are rare).
	Post PostFunc
}

// PostFunc sends body to url as an HTTP POST (Content-Type
// application/json, "Authorization: Bearer token" when token is set),
// never following a redirect, and returns the response status and body,
// failing with ErrTooLarge for a body over limit and ErrUnreachable for
// no answer. It honours ctx's deadline.
type PostFunc func(ctx context.Context, url, token string, body []byte, limit int64) (status int, resp []byte, err error)

// Transport is the HTTP connection pool shared by every Client of a
// process. Close it last.
type Transport struct {
	opts Options
	http *http.Client
	tr   *http.Transport
	// versions: the Hrana version each server (scheme://host:port) spoke
	// when probed, so the many tenants of one server probe it once.
	mu       sync.Mutex
	versions map[string]int32
}

// maxServers bounds Transport.versions (servers come from the catalog's
// shards and db_urls: a handful; past the bound a client probes alone).
const maxServers = 4096

// NewTransport returns a Transport; it opens nothing until used.
func NewTransport(opts Options) *Transport {
	if opts.MaxIdleConnsPerHost <= 0 {
		opts.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = opts.MaxIdleConnsPerHost
	tr.MaxIdleConns = 0
	tr.DisableCompression = true // loopback or a private network: CPU is dearer than bytes
	return &Transport{opts: opts, tr: tr, versions: map[string]int32{}, http: &http.Client{Transport: tr,
		// A server never redirects a Hrana request; following one would
		// send the credential elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Close drops idle connections.
func (t *Transport) Close() { t.tr.CloseIdleConnections() }

// Errors a caller matches with errors.Is.
var (
	// ErrServer: the server answered a request with an error status
	// (see *ServerError for its message and code).
	ErrServer = errors.New("libSQL server error")
	// ErrUnreachable: no answer (connection refused, reset, timeout).
	ErrUnreachable = errors.New("libSQL server unreachable")
	// ErrTooLarge: a response over Options.MaxResponseBytes.
	ErrTooLarge = errors.New("libSQL server response too large")
	// ErrProtocol: the server's answer is not Hrana.
	ErrProtocol = errors.New("libSQL server spoke something other than Hrana")
)

// ServerError is an error status from the server, with the Hrana error
// object of its body when it had one.
type ServerError struct {
	Status  int
	Message string
	Code    string
}

func (e *ServerError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("libSQL server: %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("libSQL server: %d: %s", e.Status, e.Message)
}

func (e *ServerError) Unwrap() error { return ErrServer }

// Client is one libSQL database on a server: its base URL and credential.
type Client struct {
	t       *Transport
	base    string // scheme://host[:port][/path], no trailing slash
	origin  string // scheme://host[:port]: the server
	token   string // bearer credential ("" for none)
	version atomic.Int32
	probe   sync.Mutex
	// streamless: the server keeps no streams (see Stream.Streamless).
	streamless atomic.Bool
}

// New returns a Client for a db_url: libsql://host (HTTPS; "?tls=0" for
// plain HTTP), https://, http://, ws:// and wss:// (the same server's HTTP
// side). "?authToken=…" is the server's credential; it never appears in
// errors (see Redacted).
func (t *Transport) New(dbURL string) (*Client, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", errors.New(strings.ReplaceAll(err.Error(), dbURL, "<url>")))
	}
	q := u.Query()
	token := q.Get("authToken")
	tlsOff := q.Get("tls") == "0"
	switch strings.ToLower(u.Scheme) {
	case "libsql", "wss", "https":
		u.Scheme = "https"
		if tlsOff {
			u.Scheme = "http"
		}
	case "ws", "http":
		u.Scheme = "http"
	default:
		return nil, fmt.Errorf("database URL scheme %q is not a libSQL server (want libsql, https, http, wss or ws)", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("database URL has no host")
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return &Client{t: t, base: strings.TrimRight(u.String(), "/"), origin: u.Scheme + "://" + u.Host, token: token}, nil
}

// Base is the server's base URL (no credential).
func (c *Client) Base() string { return c.base }

// Version is the Hrana version the server speaks over HTTP (3 or 2),
// probed once with GET /v3 then /v2.
func (c *Client) Version(ctx context.Context) (int, error) {
	if v := c.version.Load(); v != 0 {
		return int(v), nil
	}
	if v := c.t.version(c.origin); v != 0 {
		c.version.Store(v)
		return int(v), nil
	}
	c.probe.Lock()
	defer c.probe.Unlock()
	if v := c.version.Load(); v != 0 {
		return int(v), nil
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultProbeTimeout)
	defer cancel()
	for _, v := range []int{3, 2} {
		ok, err := c.get(ctx, fmt.Sprintf("/v%d", v))
		if err != nil {
			return 0, err
		}
		if ok {
			c.version.Store(int32(v))
			c.t.setVersion(c.origin, int32(v))
			return v, nil
		}
	}
	// Hrana 1 servers (and Turso's own engine) answer neither: pipelines
	// may still work on /v2.
	c.version.Store(2)
	c.t.setVersion(c.origin, 2)
	return 2, nil
}

func (t *Transport) version(origin string) int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.versions[origin]
}

func (t *Transport) setVersion(origin string, v int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.versions) < maxServers {
		t.versions[origin] = v
	}
}

func (c *Client) get(ctx context.Context, path string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return false, err
	}
	c.authorize(req)
	resp, err := c.t.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("%w: %s: %v", ErrUnreachable, c.base, scrub(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

func (c *Client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// post sends body to base+path and returns the response when its status
// is 200; any other status is a *ServerError.
func (c *Client) post(ctx context.Context, base, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	c.authorize(req)
	resp, err := c.t.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, c.base, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, c.base, scrub(err))
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, serverError(resp.StatusCode, raw)
}

// postBytes sends body and returns the whole 200 response body (at most
// MaxResponseBytes), through Options.Post when set.
func (c *Client) postBytes(ctx context.Context, base, path string, body []byte) ([]byte, error) {
	limit := c.t.opts.MaxResponseBytes
	if post := c.t.opts.Post; post != nil {
		status, raw, err := post(ctx, base+path, c.token, body, limit)
		switch {
		case errors.Is(err, ErrTooLarge):
			return nil, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, limit)
		case err != nil && ctx.Err() != nil:
			return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, c.base, ctx.Err())
		case err != nil:
			return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, c.base, err)
		case status != http.StatusOK:
			return nil, serverError(status, raw[:min(len(raw), 64<<10)])
		}
		return raw, nil
	}
	resp, err := c.post(ctx, base, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: reading a response: %v", ErrUnreachable, c.base, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, limit)
	}
	return raw, nil
}

// serverError is the *ServerError of a non-200 answer.
func serverError(status int, raw []byte) error {
	se := &ServerError{Status: status, Message: strings.TrimSpace(string(raw))}
	var obj struct {
		Message *string `json:"message"`
		Error   *string `json:"error"`
		Code    *string `json:"code"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		switch {
		case obj.Message != nil:
			se.Message = *obj.Message
		case obj.Error != nil:
			se.Message = *obj.Error
		}
		if obj.Code != nil {
			se.Code = *obj.Code
		}
	}
	return se
}

// scrub drops the URL from a transport error (net/http quotes it, and the
// URL never carries the token, but keep error text short and stable).
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
