// Package certstore keeps TLS certificates, their private keys and the ACME
// account in the catalog database, as a certmagic.Storage: every proxy that
// shares the catalog sees the same certificates, and certmagic's locks (rows
// in tls_locks with an expiry) make sure only one of them orders any one
// certificate. Private keys are sealed with AES-256-GCM under a key derived
// from the operator's storage secret before they reach the database.
package certstore
