package web

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// Page security headers: scripts, styles and requests only from this
// origin, never framed.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// Serve writes f as the response to a GET or HEAD request, answering 304 Not
// Modified when If-None-Match names its current ETag. Files are revalidated
// on every use (Cache-Control: no-cache) because their URLs carry no
// version; a matching ETag makes that a tiny 304.
func Serve(ctx *fasthttp.RequestCtx, f *File) {
	h := &ctx.Response.Header
	body, etag := f.Body, f.ETag
	if f.Gzip != nil && ctx.Request.Header.HasAcceptEncoding("gzip") {
		body, etag = f.Gzip, f.GzipETag
		h.Set(fasthttp.HeaderContentEncoding, "gzip")
	}
	h.Set(fasthttp.HeaderVary, "Accept-Encoding")
	h.Set(fasthttp.HeaderETag, etag)
	h.Set(fasthttp.HeaderCacheControl, "no-cache")
	h.Set(fasthttp.HeaderXContentTypeOptions, "nosniff")
	if f.Page {
		h.Set("Content-Security-Policy", pageCSP)
		h.Set(fasthttp.HeaderReferrerPolicy, "no-referrer")
		h.Set(fasthttp.HeaderXFrameOptions, "DENY")
	}
	if etagMatch(string(ctx.Request.Header.Peek(fasthttp.HeaderIfNoneMatch)), etag) {
		h.Del(fasthttp.HeaderContentEncoding)
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType(f.ContentType)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBody(body) // the server drops it for HEAD, keeping Content-Length
}

// ServeAsset serves the embedded file named by a path under AssetPrefix and
// reports whether there was one.
func ServeAsset(ctx *fasthttp.RequestCtx) bool {
	p := string(ctx.Path())
	if !strings.HasPrefix(p, AssetPrefix) {
		return false
	}
	f := Asset(p[len(AssetPrefix):])
	if f == nil {
		return false
	}
	Serve(ctx, f)
	return true
}

// etagMatch implements the weak comparison of If-None-Match (RFC 9110
// 13.1.2): "*" or any listed tag equal to etag, ignoring W/ prefixes.
func etagMatch(header, etag string) bool {
	header = strings.TrimSpace(header)
	if header == "" {
		return false
	}
	if header == "*" {
		return true
	}
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag {
			return true
		}
	}
	return false
}
