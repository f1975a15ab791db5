package certstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Certificate states of a custom domain, as the admin view shows them.
const (
	StateNone    = "none"    // the tenant has no custom domain
	StatePending = "pending" // no certificate yet (waiting for DNS and a first HTTPS request, or ordering)
	StateActive  = "active"  // a certificate is served; NotAfter says until when
	StateFailed  = "failed"  // the last order failed; LastError says why
)

// DomainStatus is the certificate state of one domain.
type DomainStatus struct {
	Domain    string
	State     string
	NotAfter  time.Time // zero unless a certificate was obtained
	LastError string
	Updated   time.Time
}

// SetDomain records the certificate state of a domain.
func (s *Store) SetDomain(ctx context.Context, st DomainStatus) error {
	var notAfter any
	if !st.NotAfter.IsZero() {
		notAfter = st.NotAfter.UnixNano()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO tls_domains (domain, state, not_after_ns, last_error, updated_ns)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(domain) DO UPDATE SET state = excluded.state,
			not_after_ns = coalesce(excluded.not_after_ns, tls_domains.not_after_ns),
			last_error = excluded.last_error, updated_ns = excluded.updated_ns`,
		st.Domain, st.State, notAfter, truncate(st.LastError, 500), time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("tls storage: record %s: %w", st.Domain, err)
	}
	return nil
}

// ForgetDomain drops a domain's state (its tenant no longer uses it).
func (s *Store) ForgetDomain(ctx context.Context, domain string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM tls_domains WHERE domain = ?`, domain); err != nil {
		return fmt.Errorf("tls storage: forget %s: %w", domain, err)
	}
	return nil
}

// Domains returns the recorded state of each of domains that has one.
func (s *Store) Domains(ctx context.Context, domains ...string) (map[string]DomainStatus, error) {
	out := make(map[string]DomainStatus, len(domains))
	for len(domains) > 0 { // in chunks, under SQLite's variable limit
		chunk := domains[:min(len(domains), 500)]
		domains = domains[len(chunk):]
		args := make([]any, len(chunk))
		for i, d := range chunk {
			args[i] = d
		}
		rows, err := s.db.QueryContext(ctx, `SELECT domain, state, not_after_ns, last_error, updated_ns
			FROM tls_domains WHERE domain IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("tls storage: read domain states: %w", err)
		}
		for rows.Next() {
			var st DomainStatus
			var notAfter sql.NullInt64
			var updated int64
			if err := rows.Scan(&st.Domain, &st.State, &notAfter, &st.LastError, &updated); err != nil {
				rows.Close()
				return nil, fmt.Errorf("tls storage: read domain states: %w", err)
			}
			if notAfter.Valid {
				st.NotAfter = time.Unix(0, notAfter.Int64).UTC()
			}
			st.Updated = time.Unix(0, updated).UTC()
			out[st.Domain] = st
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("tls storage: read domain states: %w", err)
		}
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
