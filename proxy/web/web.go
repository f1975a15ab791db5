// Package web holds the embedded static pages of tenantgate: the marketing
// site (root domain), the tenant dashboard (every tenant host) and the
// platform admin panel (admin host). Everything ships inside the binary
// (embedded with go:embed): no CDN, no external fonts. Each file is loaded
// once at start-up with its content type, a strong ETag and a
// pre-compressed gzip copy.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"slices"
	"strings"
)

//go:embed static
var static embed.FS

// AssetPrefix is the URL path under which every non-page file is served
// (stylesheet, scripts, icon) on every host.
const AssetPrefix = "/assets/"

// File is one embedded file ready to serve.
type File struct {
	Name        string // file name inside static/, e.g. "site.css"
	ContentType string // e.g. "text/css; charset=utf-8"
	ETag        string // strong validator of Body, quoted
	Body        []byte
	Gzip        []byte // Body gzip-compressed; nil when that does not save bytes
	GzipETag    string // validator of the gzip representation, quoted
	Page        bool   // an HTML page: served with the page security headers
}

// The three pages.
var (
	Public    = mustFile("public.html")    // marketing site on the root domain
	Dashboard = mustFile("dashboard.html") // tenant dashboard on each tenant host
	Admin     = mustFile("admin.html")     // platform admin panel on admin.<root>
)

var assets = loadAssets()

// Asset returns the file served at AssetPrefix+name, or nil. Pages are not
// assets: each is served at "/" on its own kind of host.
func Asset(name string) *File {
	return assets[name]
}

// AssetNames lists every file served under AssetPrefix, sorted.
func AssetNames() []string {
	names := make([]string, 0, len(assets))
	for n := range assets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func loadAssets() map[string]*File {
	entries, err := fs.ReadDir(static, "static")
	if err != nil {
		panic(fmt.Sprintf("web: read embedded files: %v", err))
	}
	out := make(map[string]*File, len(entries))
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".html") {
			continue
		}
		out[e.Name()] = mustFile(e.Name())
	}
	return out
}

func mustFile(name string) *File {
	body, err := static.ReadFile("static/" + name)
	if err != nil {
		panic(fmt.Sprintf("web: embedded file %s: %v", name, err))
	}
	ext := path.Ext(name)
	ct := mime.TypeByExtension(ext)
	switch ext { // pin the common types: the system mime table varies by host
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:12])
	f := &File{Name: name, ContentType: ct, Body: body, ETag: `"` + tag + `"`, Page: ext == ".html"}
	if gz := compress(body); len(gz) < len(body) {
		f.Gzip, f.GzipETag = gz, `"`+tag+`-gz"`
	}
	return f
}

func compress(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}
