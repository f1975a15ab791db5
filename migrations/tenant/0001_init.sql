-- The tenant schema: one database per tenant, and every row still carries
-- tenant_id. The stamp names the one tenant this file belongs to; triggers
-- refuse any row whose tenant_id is not the stamp, so even a buggy query
-- (or raw SQL over Hrana) cannot write a foreign tenant's row.
CREATE TABLE tenant_stamp (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  tenant_id INTEGER NOT NULL
);

CREATE TRIGGER tenant_stamp_immutable BEFORE UPDATE ON tenant_stamp BEGIN
  SELECT RAISE(ABORT, 'tenant stamp is immutable');
END;

CREATE TRIGGER tenant_stamp_permanent BEFORE DELETE ON tenant_stamp BEGIN
  SELECT RAISE(ABORT, 'tenant stamp is immutable');
END;

CREATE TABLE users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id     INTEGER NOT NULL,
  email         TEXT NOT NULL,
  name          TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('customer', 'staff', 'admin')),
  created_at    DATETIME DEFAULT CURRENT_TIMESTAMP,
  UNIQUE (tenant_id, email)
);
CREATE INDEX idx_users_tenant_id ON users(tenant_id);

-- Balances are integer minor units (pesewas, cents) and never negative.
CREATE TABLE accounts (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id  INTEGER NOT NULL,
  user_id    INTEGER NOT NULL REFERENCES users(id),
  type       TEXT NOT NULL CHECK (type IN ('savings', 'current')),
  currency   TEXT NOT NULL,
  balance    INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
  status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed')),
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_accounts_tenant_id ON accounts(tenant_id);
CREATE INDEX idx_accounts_tenant_user ON accounts(tenant_id, user_id);

-- One row per posting. A transfer is one row that debits account_id and
-- credits to_account_id, so it can never be half-written.
CREATE TABLE transactions (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id     INTEGER NOT NULL,
  user_id       INTEGER REFERENCES users(id),
  account_id    INTEGER NOT NULL REFERENCES accounts(id),
  to_account_id INTEGER REFERENCES accounts(id),
  type          TEXT NOT NULL CHECK (type IN ('deposit', 'withdrawal', 'transfer')),
  amount        INTEGER NOT NULL CHECK (amount > 0),
  currency      TEXT NOT NULL,
  description   TEXT NOT NULL DEFAULT '',
  created_at    DATETIME DEFAULT CURRENT_TIMESTAMP,
  CHECK ((type = 'transfer') = (to_account_id IS NOT NULL))
);
CREATE INDEX idx_transactions_tenant_id ON transactions(tenant_id);
CREATE INDEX idx_transactions_account ON transactions(tenant_id, account_id, id);
CREATE INDEX idx_transactions_to_account ON transactions(tenant_id, to_account_id, id) WHERE to_account_id IS NOT NULL;

CREATE TABLE subscriptions (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id    INTEGER NOT NULL,
  plan         TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'active',
  amount_minor INTEGER NOT NULL DEFAULT 0,
  currency     TEXT NOT NULL,
  started_at   DATETIME DEFAULT CURRENT_TIMESTAMP,
  ends_at      DATETIME
);
CREATE INDEX idx_subscriptions_tenant_id ON subscriptions(tenant_id);

CREATE TABLE gateway_configs (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id  INTEGER NOT NULL,
  provider   TEXT NOT NULL,
  config     TEXT NOT NULL DEFAULT '{}',
  enabled    INTEGER NOT NULL DEFAULT 1,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_gateway_configs_tenant_id ON gateway_configs(tenant_id);

CREATE TABLE communication_usage (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id  INTEGER NOT NULL,
  channel    TEXT NOT NULL,
  units      INTEGER NOT NULL DEFAULT 0,
  cost_minor INTEGER NOT NULL DEFAULT 0,
  period     TEXT NOT NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_communication_usage_tenant_id ON communication_usage(tenant_id);

-- Idempotency keys remember the first answer to a retried POST.
CREATE TABLE idempotency_keys (
  tenant_id    INTEGER NOT NULL,
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status       INTEGER NOT NULL,
  response     TEXT NOT NULL,
  created_at   DATETIME DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (tenant_id, key)
);
