"""The outbox wake-up fires only for statements that queue deliveries.

Every audit entry's statement inserts into `webhook_deliveries`, usually no
row (nobody subscribes to most actions). The statement-level notify trigger
still ran for each of them, and PostgreSQL captured its transition table:
measured with `track_functions` under the lead-create load of
`bench/leads_bench.py`, one call per lead created, about 16 us of the
database's time each, with nothing to notify. Fired per inserted delivery
row instead, a statement that queues none costs nothing; NOTIFY collapses a
transaction's identical notifications, so idle senders still wake once per
commit.

Revision ID: 0012_notify_per_delivery
Revises: 0011_console
"""

from eal.db.migrate import run_sql

revision = "0012_notify_per_delivery"
down_revision = "0011_console"
branch_labels = None
depends_on = None

UPGRADE = r"""
DROP TRIGGER webhook_deliveries_notify ON webhook_deliveries;
CREATE OR REPLACE FUNCTION eal_webhooks_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('eal_webhooks', '');
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_deliveries_notify AFTER INSERT ON webhook_deliveries
  FOR EACH ROW EXECUTE FUNCTION eal_webhooks_notify();
"""

DOWNGRADE = r"""
DROP TRIGGER webhook_deliveries_notify ON webhook_deliveries;
CREATE OR REPLACE FUNCTION eal_webhooks_notify() RETURNS trigger
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


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
