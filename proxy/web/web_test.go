package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/microfi/tenantgate/proxy/web"
)

// serve runs a real fasthttp server on an in-memory listener that serves
// the public page at "/" and the assets under /assets/.
func serve(t *testing.T) *fasthttp.Client {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/" {
			web.Serve(ctx, web.Public)
			return
		}
		if !web.ServeAsset(ctx) {
			ctx.Error(`{"error":"Not found"}`, fasthttp.StatusNotFound)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(); ln.Close() })
	return &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
}

func do(t *testing.T, c *fasthttp.Client, method, path string, hdr map[string]string) *fasthttp.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI("http://microfi.localhost" + path)
	req.Header.SetMethod(method)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp := &fasthttp.Response{}
	if method == fasthttp.MethodHead {
		resp.SkipBody = true
	}
	if err := c.Do(req, resp); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

func TestServe(t *testing.T) {
	c := serve(t)

	t.Run("OK", func(t *testing.T) {
		resp := do(t, c, "GET", "/", nil)
		if got, want := resp.StatusCode(), 200; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}
		if got := string(resp.Header.ContentType()); got != "text/html; charset=utf-8" {
			t.Errorf("content type = %q", got)
		}
		if got := string(resp.Header.Peek("ETag")); got != web.Public.ETag {
			t.Errorf("etag = %q, want %q", got, web.Public.ETag)
		}
		if !bytes.Contains(resp.Body(), []byte("Try Free Demo")) {
			t.Errorf("page lacks the demo button")
		}
		if csp := string(resp.Header.Peek("Content-Security-Policy")); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("CSP = %q", csp)
		}
	})

	t.Run("NotModified", func(t *testing.T) {
		for _, inm := range []string{web.Public.ETag, `W/` + web.Public.ETag, `"other", ` + web.Public.ETag, "*"} {
			resp := do(t, c, "GET", "/", map[string]string{"If-None-Match": inm})
			if got, want := resp.StatusCode(), 304; got != want {
				t.Errorf("If-None-Match %s: status = %d, want %d", inm, got, want)
			}
			if len(resp.Body()) != 0 {
				t.Errorf("304 has a body of %d bytes", len(resp.Body()))
			}
		}
		resp := do(t, c, "GET", "/", map[string]string{"If-None-Match": `"stale"`})
		if got, want := resp.StatusCode(), 200; got != want {
			t.Errorf("stale ETag: status = %d, want %d", got, want)
		}
	})

	t.Run("Gzip", func(t *testing.T) {
		resp := do(t, c, "GET", "/assets/site.css", map[string]string{"Accept-Encoding": "gzip, br"})
		if got := string(resp.Header.Peek("Content-Encoding")); got != "gzip" {
			t.Fatalf("content encoding = %q, want gzip", got)
		}
		zr, err := gzip.NewReader(bytes.NewReader(resp.Body()))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(plain, web.Asset("site.css").Body) {
			t.Errorf("gunzipped body differs from the embedded file")
		}
		etag := string(resp.Header.Peek("ETag"))
		resp = do(t, c, "GET", "/assets/site.css", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": etag})
		if got, want := resp.StatusCode(), 304; got != want {
			t.Errorf("revalidate gzip: status = %d, want %d", got, want)
		}
	})

	t.Run("Head", func(t *testing.T) {
		resp := do(t, c, "HEAD", "/assets/public.js", nil)
		if got, want := resp.StatusCode(), 200; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}
		if got, want := resp.Header.ContentLength(), len(web.Asset("public.js").Body); got != want {
			t.Errorf("content length = %d, want %d", got, want)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, p := range []string{"/assets/nope.js", "/assets/public.html", "/assets/../web.go", "/assets/"} {
			if got := do(t, c, "GET", p, nil).StatusCode(); got != 404 {
				t.Errorf("GET %s: status = %d, want 404", p, got)
			}
		}
	})
}

// TestSelfContained checks that no page or asset loads anything from
// another origin (no CDN, no web fonts) and that every local reference
// exists.
func TestSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["'](https?:)?//|@import|url\(\s*["']?(https?:)?//|fonts\.`)
	local := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`)
	files := []*web.File{web.Public, web.Dashboard, web.Admin}
	for _, n := range web.AssetNames() {
		files = append(files, web.Asset(n))
	}
	for _, f := range files {
		if m := external.Find(f.Body); m != nil {
			t.Errorf("%s loads from another origin: %q", f.Name, m)
		}
		for _, m := range local.FindAllSubmatch(f.Body, -1) {
			name := strings.TrimPrefix(string(m[1]), web.AssetPrefix)
			if web.Asset(name) == nil {
				t.Errorf("%s references missing asset %s", f.Name, m[1])
			}
		}
	}
}

// TestScriptIDs checks that every element id a page script looks up with
// $("…") exists in its page, so a renamed id cannot silently break a page.
func TestScriptIDs(t *testing.T) {
	lookup := regexp.MustCompile(`\$\("([a-z0-9-]+)"\)`)
	for script, page := range map[string]*web.File{"public.js": web.Public, "dashboard.js": web.Dashboard, "people.js": web.Dashboard, "admin.js": web.Admin, "platform-audit.js": web.Admin, "fleet.js": web.Admin} {
		js := web.Asset(script)
		if js == nil {
			t.Fatalf("missing %s", script)
		}
		if !bytes.Contains(page.Body, []byte(`src="/assets/`+script+`"`)) {
			t.Errorf("%s does not load %s", page.Name, script)
		}
		for _, m := range lookup.FindAllSubmatch(js.Body, -1) {
			if !bytes.Contains(page.Body, []byte(`id="`+string(m[1])+`"`)) {
				t.Errorf("%s looks up #%s, which %s lacks", script, m[1], page.Name)
			}
		}
	}
}

// TestLabels checks that every form control on every page has a label.
func TestLabels(t *testing.T) {
	control := regexp.MustCompile(`<(input|select|textarea)\b[^>]*\bid="([^"]+)"`)
	for _, page := range []*web.File{web.Public, web.Dashboard, web.Admin} {
		for _, m := range control.FindAllSubmatch(page.Body, -1) {
			if !bytes.Contains(page.Body, []byte(`for="`+string(m[2])+`"`)) {
				t.Errorf("%s: <%s id=%q> has no <label for>", page.Name, m[1], m[2])
			}
		}
	}
}
