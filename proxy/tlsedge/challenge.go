package tlsedge

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/microfi/tenantgate/catalog"
)

// ChallengePrefix is the path of ACME HTTP-01 challenges.
const ChallengePrefix = "/.well-known/acme-challenge/"

// ServeHTTPChallenge answers an ACME HTTP-01 challenge request on the plain
// listener and reports whether it did. Only names the catalog allows are
// looked up in the shared storage (another proxy may have started the
// order), so made-up hosts cost a cached miss, not a storage read.
func (e *Edge) ServeHTTPChallenge(w http.ResponseWriter, r *http.Request) bool {
	if e.issuer == nil || !strings.HasPrefix(r.URL.Path, ChallengePrefix) {
		return false
	}
	host, err := catalog.NormalizeHost(r.Host)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, err := e.decide(ctx, host); err != nil {
		return false
	}
	return e.issuer.HandleHTTPChallenge(w, r)
}

// ACME reports whether this edge obtains certificates.
func (e *Edge) ACME() bool { return e.cfg.ACME != nil }
