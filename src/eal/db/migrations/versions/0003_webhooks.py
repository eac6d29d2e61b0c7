"""Webhooks: endpoints (subscriptions), the delivery queue and one row per attempt.

Revision ID: 0003_webhooks
Revises: 0001_core
"""

from eal.db.migrate import run_sql

revision = "0003_webhooks"
down_revision = "0001_core"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE webhook_endpoints (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  url text NOT NULL,
  events text[] NOT NULL CHECK (cardinality(events) > 0),
  description text,
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text,
  secret_encrypted text NOT NULL,
  secret_prefix text NOT NULL,
  previous_secret_encrypted text,
  previous_secret_expires_at timestamptz,
  last_delivery_at timestamptz,
  last_delivery_status integer,
  failing_since timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX webhook_endpoints_page_idx
  ON webhook_endpoints (organization_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
-- The fan-out in events.record reads this on every audit entry.
CREATE INDEX webhook_endpoints_fanout_idx
  ON webhook_endpoints (organization_id) WHERE enabled AND deleted_at IS NULL;
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_endpoints_tenant ON webhook_endpoints
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON webhook_endpoints TO eal_app;

-- One row per (event, endpoint): the outbox. `body` is the exact JSON sent, fixed
-- at enqueue so every retry carries identical bytes. A claim leases the row by
-- moving next_attempt_at to the lease's end, so a crashed worker's row simply
-- becomes due again.
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints(id),
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  body text NOT NULL,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'retrying', 'delivered', 'failed', 'cancelled')),
  attempt integer NOT NULL DEFAULT 0,
  retry_step integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz DEFAULT now(),
  leased_until timestamptz,
  leased_by text,
  response_status integer,
  latency_ms integer,
  error text,
  delivered_at timestamptz,
  queued_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx
  ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX webhook_deliveries_open_idx
  ON webhook_deliveries (endpoint_id) WHERE status IN ('pending', 'retrying');
CREATE INDEX webhook_deliveries_queued_idx
  ON webhook_deliveries (endpoint_id, queued_at DESC, id DESC)
  WHERE status IN ('pending', 'cancelled');
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_finished_idx
  ON webhook_deliveries (updated_at) WHERE status IN ('delivered', 'failed', 'cancelled');
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_tenant ON webhook_deliveries
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON webhook_deliveries TO eal_app;

-- One row per HTTP attempt (what GET /webhooks/{id}/deliveries lists).
CREATE TABLE webhook_attempts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints(id),
  attempt integer NOT NULL,
  status text NOT NULL CHECK (status IN ('delivered', 'retrying', 'failed')),
  response_status integer,
  latency_ms integer,
  error text,
  worker_id text,
  next_attempt_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_page_idx
  ON webhook_attempts (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id);
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_attempts_tenant ON webhook_attempts
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT ON webhook_attempts TO eal_app;

-- Wakes idle workers (LISTEN eal_webhooks) when a transaction that queued
-- deliveries commits; NOTIFY is delivered only on commit, never on rollback.
CREATE FUNCTION eal_webhooks_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM queued) THEN
    PERFORM pg_notify('eal_webhooks', '');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_deliveries_notify AFTER INSERT ON webhook_deliveries
  REFERENCING NEW TABLE AS queued
  FOR EACH STATEMENT EXECUTE FUNCTION eal_webhooks_notify();
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS webhook_attempts;
DROP TABLE IF EXISTS webhook_deliveries;
DROP FUNCTION IF EXISTS eal_webhooks_notify();
DROP TABLE IF EXISTS webhook_endpoints;
"""


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
