package proxy

import (
	"bytes"
	"html"

	"github.com/valyala/fasthttp"
)

// Browsers that reach a suspended, expired-demo or unknown host get a page,
// not raw JSON: the same status, a sentence a person understands and a way
// on. API clients (fetch, curl, the libSQL clients) do not ask for HTML
// first and keep the JSON error.

// errorPage is the text of one host-level error page.
type errorPage struct {
	title, sentence, link, linkText string
}

// pageFor returns the page for a host-level error, or false when e has none.
func (s *Server) pageFor(e *Error) (errorPage, bool) {
	site := s.URL("") + "/"
	switch e {
	case errSuspended:
		return errorPage{"Platform suspended",
			"This institution's MicroFi platform is suspended for now. If you bank here, please contact your institution; if you run it, contact MicroFi support.",
			site, "Go to the MicroFi website"}, true
	case errDemoExpired:
		return errorPage{"Demo ended",
			"This demo has ended: demos last a day, and their sample data is deleted. Starting a new one takes a few seconds.",
			site + "#demo", "Start a new demo"}, true
	case errTenantNotFound:
		return errorPage{"No institution here",
			"There is no MicroFi institution at this address. Check the address, or visit the MicroFi website.",
			site, "Go to the MicroFi website"}, true
	}
	return errorPage{}, false
}

// wantsHTML reports whether the request is a browser navigation: a GET or
// HEAD whose Accept header names text/html.
func wantsHTML(ctx *fasthttp.RequestCtx) bool {
	return (ctx.IsGet() || ctx.IsHead()) && bytes.Contains(ctx.Request.Header.Peek(fasthttp.HeaderAccept), []byte("text/html"))
}

// writeErrorPage writes p as a small self-contained page with status.
func writeErrorPage(ctx *fasthttp.RequestCtx, status int, p errorPage) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	title := html.EscapeString(p.title)
	ctx.SetBodyString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + title + ` · MicroFi</title>
<style>body{font:16px/1.5 system-ui,sans-serif;color:#111827;background:#f9fafb;margin:0;display:grid;place-items:center;min-height:100vh}
main{max-width:32rem;margin:1rem;padding:2rem;background:#fff;border:1px solid #e5e7eb;border-radius:12px}
h1{font-size:1.5rem;margin:0 0 .75rem}a{display:inline-block;margin-top:1rem;padding:.6rem 1rem;background:#1d4ed8;color:#fff;border-radius:8px;text-decoration:none;font-weight:600}</style>
</head><body><main><h1>` + title + `</h1><p>` + html.EscapeString(p.sentence) + `</p><a href="` + html.EscapeString(p.link) + `">` + html.EscapeString(p.linkText) + `</a></main></body></html>
`)
}
