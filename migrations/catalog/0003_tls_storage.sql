-- TLS certificates, keys and ACME accounts, shared by every proxy on this
-- catalog (catalog/certstore implements certmagic's Storage on these).
-- Values of private keys are encrypted by the proxy before they get here.
CREATE TABLE tls_storage (
  key         TEXT PRIMARY KEY,
  value       BLOB NOT NULL,
  modified_ns INTEGER NOT NULL
);

-- Locks serialise certificate orders across proxies. A lock is held until
-- its owner deletes it or until expires_ns passes (a crashed owner), and
-- the owner extends it while the work goes on.
CREATE TABLE tls_locks (
  name       TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  expires_ns INTEGER NOT NULL
);

-- The last issuance outcome per domain, for the admin view: state is
-- pending, active or failed; not_after is the served certificate's end.
CREATE TABLE tls_domains (
  domain       TEXT PRIMARY KEY,
  state        TEXT NOT NULL,
  not_after_ns INTEGER,
  last_error   TEXT NOT NULL DEFAULT '',
  updated_ns   INTEGER NOT NULL
);
