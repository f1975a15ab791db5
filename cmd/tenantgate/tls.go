package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/certstore"
	"github.com/microfi/tenantgate/proxy/tlsedge"
)

// tlsFlags are serve's HTTPS flags.
type tlsFlags struct {
	listen, cert, key                     string
	acmeCA, acmeEmail, acmeRoot           string
	edgeHostname, storageKey, acmeProfile string
	redirectHTTP                          bool
}

func (t *tlsFlags) register(f *commandFlags) {
	f.StringVar(&t.listen, "tls-listen", "", "`ADDR` for HTTPS traffic, e.g. :443 (default: no HTTPS listener)")
	f.BoolVar(&t.redirectHTTP, "redirect-http", false, "answer every plain-HTTP request with 308 to HTTPS (ACME challenges excepted)")
	f.StringVar(&t.cert, "tls-cert", "", "PEM certificate `FILE` (chain) for R and *.R, e.g. a wildcard; with --tls-key")
	f.StringVar(&t.key, "tls-key", "", "PEM private key `FILE` of --tls-cert")
	f.StringVar(&t.acmeEmail, "acme-email", "", "contact `EMAIL` for the ACME account; turns on on-demand certificates for custom domains (and for R's hosts without --tls-cert)")
	f.StringVar(&t.acmeCA, "acme-ca", "", "ACME directory `URL` (default: Let's Encrypt production)")
	f.StringVar(&t.acmeRoot, "acme-ca-root", "", "PEM root certificate `FILE` to trust when talking to the ACME CA (private or test CAs)")
	f.StringVar(&t.acmeProfile, "acme-profile", "", "certificate `PROFILE` to request from the ACME CA (default: the CA's default)")
	f.StringVar(&t.edgeHostname, "edge-hostname", "", "host `NAME` tenants point their custom domain's CNAME at (default: the root domain)")
	f.StringVar(&t.storageKey, "tls-storage-key", "", "`SECRET` (32+ characters) sealing private keys stored in the catalog (default: <data-dir>/tls-storage.key, created on first run)")
}

// check refuses flag combinations that cannot work.
func (t *tlsFlags) check(plainListen string) error {
	switch {
	case plainListen == "" && t.listen == "":
		return errUsage("--listen and --tls-listen are both off: nothing to serve")
	case t.redirectHTTP && t.listen == "":
		return errUsage("--redirect-http needs --tls-listen")
	case t.redirectHTTP && plainListen == "":
		return errUsage("--redirect-http needs the plain --listen")
	case (t.cert == "") != (t.key == ""):
		return errUsage("--tls-cert and --tls-key go together")
	case t.listen != "" && t.cert == "" && t.acmeEmail == "":
		return errUsage("--tls-listen needs --tls-cert and --tls-key, or --acme-email for on-demand certificates")
	case t.acmeEmail == "" && (t.acmeCA != "" || t.acmeRoot != "" || t.acmeProfile != ""):
		return errUsage("--acme-ca, --acme-ca-root and --acme-profile need --acme-email")
	}
	return nil
}

// edge builds and starts the HTTPS side: it reads the certificate files and
// the storage key, so everything in tlsedge gets bytes, not paths. httpAddr
// and tlsAddr are the bound listeners' addresses (HTTP-01 and TLS-ALPN-01
// challenges arrive there).
func (t *tlsFlags) edge(ctx context.Context, dataDir, rootDomain string, cat *catalog.Catalog,
	reg prometheus.Registerer, log *slog.Logger, httpAddr, tlsAddr string) (*tlsedge.Edge, error) {
	root, err := catalog.NormalizeHost(rootDomain)
	if err != nil {
		return nil, errUsage("--root-domain: " + err.Error())
	}
	cfg := tlsedge.Config{RootDomain: root, Catalog: cat, HTTPAddr: httpAddr, TLSAddr: tlsAddr, Registerer: reg, Logger: log}
	if t.cert != "" {
		pair, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificate = &pair
	}
	if t.acmeEmail != "" {
		a := &tlsedge.ACME{CA: t.acmeCA, Email: t.acmeEmail, Profile: t.acmeProfile}
		if t.acmeRoot != "" {
			if a.ExtraRoot, err = os.ReadFile(t.acmeRoot); err != nil {
				return nil, fmt.Errorf("--acme-ca-root: %w", err)
			}
		}
		secret, err := dataSecret(dataDir, "tls-storage.key", "--tls-storage-key", t.storageKey)
		if err != nil {
			return nil, err
		}
		if cfg.Store, err = certstore.New(cat.DB(), secret, certstore.Options{Logger: log}); err != nil {
			return nil, err
		}
		cfg.ACME = a
	}
	e, err := tlsedge.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := e.Start(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// listenTLS binds the HTTPS listener's TCP socket.
func (t *tlsFlags) listenTLS() (net.Listener, error) {
	ln, err := net.Listen("tcp", t.listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", t.listen, err)
	}
	return ln, nil
}
