"""Organization config revision (the key of derived-data caches) and a leaner chain trigger.

Revision ID: 0004_hot_path
Revises: 0002_leads, 0003_webhooks
"""

from eal.db.migrate import run_sql

revision = "0004_hot_path"
down_revision = ("0002_leads", "0003_webhooks")
branch_labels = None
depends_on = None

# The authentication function (as in 0001_core) with its extra output left open:
# this revision returns the organization's config revision too.
_AUTHENTICATE = r"""
CREATE FUNCTION eal_authenticate(p_hash bytea)
RETURNS TABLE (key_id uuid, organization_id uuid, scopes text[], environment text,
               parent_organization_id uuid__COLUMNS__)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  k api_keys%ROWTYPE;
BEGIN
  SELECT * INTO k FROM api_keys a WHERE a.key_hash = p_hash AND a.revoked_at IS NULL;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM set_config('app.organization_id', k.organization_id::text, true);
  IF k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds' THEN
    -- SKIP LOCKED: the row lock lasts until the request's transaction ends, so a
    -- concurrent request of the same key must not wait for it; that one records it.
    UPDATE api_keys a SET last_used_at = now()
      WHERE a.id = (SELECT b.id FROM api_keys b WHERE b.id = k.id FOR UPDATE SKIP LOCKED);
  END IF;
  RETURN QUERY SELECT k.id, k.organization_id, k.scopes, k.environment,
    o.parent_organization_id__VALUES__
    FROM organizations o WHERE o.id = k.organization_id;
END $$;
REVOKE ALL ON FUNCTION eal_authenticate(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eal_authenticate(bytea) TO eal_app;
"""


def _authenticate(columns: str, values: str) -> str:
    return _AUTHENTICATE.replace("__COLUMNS__", columns).replace("__VALUES__", values)


# The chain trigger (as in 0001_core) with its hash expression left open.
_CHAIN_FUNCTION = r"""
CREATE OR REPLACE FUNCTION eal_audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  head_seq bigint;
  head_hash bytea;
  tail_seq bigint;
  tail_hash bytea;
BEGIN
  SELECT h.last_seq, h.last_hash INTO head_seq, head_hash
    FROM audit_chain_heads h WHERE h.organization_id = NEW.organization_id FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO audit_chain_heads (organization_id, last_seq, last_hash)
      VALUES (NEW.organization_id, 0, decode(repeat('00', 32), 'hex'))
      ON CONFLICT (organization_id) DO NOTHING;
    SELECT h.last_seq, h.last_hash INTO head_seq, head_hash
      FROM audit_chain_heads h WHERE h.organization_id = NEW.organization_id FOR UPDATE;
  END IF;
  SELECT e.seq, e.hash INTO tail_seq, tail_hash FROM platform_events e
    WHERE e.organization_id = NEW.organization_id AND e.seq > head_seq
    ORDER BY e.seq DESC LIMIT 1;
  IF FOUND THEN
    head_seq := tail_seq;
    head_hash := tail_hash;
  END IF;
  NEW.seq := head_seq + 1;
  NEW.prev_hash := head_hash;
  NEW.hash := __HASH__;
  RETURN NEW;
END $$;
"""
# The hash, written inline: the expression of eal_audit_hash (which verification
# keeps using). Called from PL/pgSQL, the SQL function ran as a query of its own
# per entry, which cost more than the rest of the append.
_INLINE_HASH = r"""sha256(NEW.prev_hash || convert_to(concat_ws('|', NEW.id::text,
    NEW.organization_id::text, NEW.seq::text, NEW.action, NEW.source,
    coalesce(NEW.correlation_id, ''), NEW.payload::text,
    (extract(epoch FROM NEW.created_at) * 1000000)::bigint::text), 'UTF8'))"""
_CALLED_HASH = r"""eal_audit_hash(NEW.prev_hash, NEW.id, NEW.organization_id, NEW.seq,
    NEW.action, NEW.source, NEW.correlation_id, NEW.payload, NEW.created_at)"""

UPGRADE = (
    r"""
-- A number the database raises whenever an organization's settings, weather
-- events or webhook endpoints change. Processes cache what they derive from
-- them (the lead-scoring context, which event types have subscribers) under
-- (organization, config_revision); every request reads the current revision
-- with its key, so a change made through any process is seen by the next
-- request everywhere.
ALTER TABLE organizations ADD COLUMN config_revision bigint NOT NULL DEFAULT 0;

CREATE FUNCTION eal_settings_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.settings IS DISTINCT FROM OLD.settings THEN
    NEW.config_revision := OLD.config_revision + 1;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER organizations_config_revision BEFORE UPDATE OF settings ON organizations
  FOR EACH ROW EXECUTE FUNCTION eal_settings_revision();

CREATE FUNCTION eal_bump_config_revision() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  UPDATE organizations o SET config_revision = o.config_revision + 1
    WHERE o.id IN (NEW.organization_id, OLD.organization_id);
  RETURN NULL;
END $$;
CREATE TRIGGER weather_events_config_revision AFTER INSERT OR UPDATE OR DELETE ON weather_events
  FOR EACH ROW EXECUTE FUNCTION eal_bump_config_revision();
CREATE TRIGGER webhook_endpoints_config_revision
  AFTER INSERT OR UPDATE OR DELETE ON webhook_endpoints
  FOR EACH ROW EXECUTE FUNCTION eal_bump_config_revision();

-- Authentication also returns the organization's config revision.
DROP FUNCTION eal_authenticate(bytea);
"""
    + _authenticate(", config_revision bigint", ", o.config_revision")
    + _CHAIN_FUNCTION.replace("__HASH__", _INLINE_HASH)
)

DOWNGRADE = (
    _CHAIN_FUNCTION.replace("__HASH__", _CALLED_HASH)
    + r"""
DROP FUNCTION eal_authenticate(bytea);
"""
    + _authenticate("", "")
    + r"""
DROP TRIGGER IF EXISTS webhook_endpoints_config_revision ON webhook_endpoints;
DROP TRIGGER IF EXISTS weather_events_config_revision ON weather_events;
DROP FUNCTION IF EXISTS eal_bump_config_revision();
DROP TRIGGER IF EXISTS organizations_config_revision ON organizations;
DROP FUNCTION IF EXISTS eal_settings_revision();
ALTER TABLE organizations DROP COLUMN IF EXISTS config_revision;
"""
)


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
