package hrana

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/shard/remote"
)

// remotePostTimeout bounds a forwarded round trip whose context has no
// deadline (every proxy request has one: the request's SQL time).
const remotePostTimeout = 60 * time.Second

// RemotePost is the HTTP client for forwarded pipelines
// (remote.Options.Post): fasthttp, so a round trip to the tenant's server
// runs on the request's own goroutine over a kept-alive connection with
// pooled buffers, instead of net/http's two goroutines per connection and
// a hand-off each way. It never follows a redirect (the credential goes
// only to the db_url server).
func RemotePost(maxConnsPerHost int) remote.PostFunc {
	if maxConnsPerHost <= 0 {
		maxConnsPerHost = 512
	}
	c := &fasthttp.Client{
		MaxConnsPerHost:          maxConnsPerHost,
		MaxIdleConnDuration:      30 * time.Second,
		NoDefaultUserAgentHeader: true,
		DisablePathNormalizing:   true,
		MaxResponseBodySize:      remote.DefaultMaxResponseBytes,
		// A pool exhausted by a slow server waits for a free connection
		// within the deadline rather than failing at once.
		MaxConnWaitTimeout: 5 * time.Second,
	}
	return func(ctx context.Context, url, token string, body []byte, limit int64) (int, []byte, error) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(url)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.SetBodyRaw(body)
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(remotePostTimeout)
		}
		if err := c.DoDeadline(req, resp, deadline); err != nil {
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				return 0, nil, remote.ErrTooLarge
			}
			return 0, nil, err
		}
		if int64(len(resp.Body())) > limit {
			return 0, nil, remote.ErrTooLarge
		}
		return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
	}
}
