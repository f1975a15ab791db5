package proxy

import (
	"net/http"

	"github.com/valyala/fasthttp"
)

// handlePublic serves the root domain and www: the marketing site and
// /api/public/*. (Placeholder until the public site lands.)
func (s *Server) handlePublic(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == "/" {
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBodyString("<!doctype html><title>MicroFi</title><h1>MicroFi</h1><p>Banking SaaS for microfinance institutions.</p>")
		return
	}
	writeJSON(ctx, http.StatusNotFound, map[string]string{"error": "Not found"})
}
