"""Core platform: roles, organizations, API keys, grants, invites, audit log, idempotency.

Revision ID: 0001_core
Revises:
"""

from eal.db.migrate import run_sql

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eal_app') THEN
    CREATE ROLE eal_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
END $$;
GRANT eal_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO eal_app;

-- The tenant of the current transaction; NULL (no rows visible) when unset.
CREATE FUNCTION eal_current_org() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT nullif(current_setting('app.organization_id', true), '')::uuid $$;

CREATE TABLE organizations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  parent_organization_id uuid REFERENCES organizations(id),
  name text NOT NULL,
  industry text NOT NULL DEFAULT 'restoration',
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organizations_parent_idx ON organizations (parent_organization_id, created_at, id);
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY organizations_read ON organizations FOR SELECT
  USING (id = eal_current_org() OR parent_organization_id = eal_current_org());
CREATE POLICY organizations_create_child ON organizations FOR INSERT
  WITH CHECK (parent_organization_id = eal_current_org());
CREATE POLICY organizations_update ON organizations FOR UPDATE
  USING (id = eal_current_org()) WITH CHECK (id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON organizations TO eal_app;

CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  name text,
  prefix text NOT NULL,
  key_hash bytea NOT NULL UNIQUE,
  scopes text[] NOT NULL,
  environment text NOT NULL CHECK (environment IN ('live', 'test')),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_org_idx ON api_keys (organization_id, created_at, id);
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_tenant ON api_keys
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON api_keys TO eal_app;

CREATE TABLE org_grants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  parent_organization_id uuid NOT NULL REFERENCES organizations(id),
  scopes text[] NOT NULL,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX org_grants_parent_idx ON org_grants (parent_organization_id, organization_id, expires_at);
CREATE INDEX org_grants_org_idx ON org_grants (organization_id, created_at);
ALTER TABLE org_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY org_grants_read ON org_grants FOR SELECT
  USING (organization_id = eal_current_org() OR parent_organization_id = eal_current_org());
CREATE POLICY org_grants_create ON org_grants FOR INSERT
  WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT ON org_grants TO eal_app;

CREATE TABLE org_invites (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  token_hash bytea NOT NULL UNIQUE,
  primary_admin_email text,
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE org_invites ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_invites FORCE ROW LEVEL SECURITY;
CREATE POLICY org_invites_tenant ON org_invites
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON org_invites TO eal_app;

-- Resolves an API key by its hash and makes its organization the tenant of
-- the current transaction. SECURITY DEFINER: the key's tenant is unknown
-- until the key is found. last_used_at is written at most once a minute so
-- busy keys do not turn every read into a write.
CREATE FUNCTION eal_authenticate(p_hash bytea)
RETURNS TABLE (key_id uuid, organization_id uuid, scopes text[], environment text,
               parent_organization_id uuid)
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
  RETURN QUERY SELECT k.id, k.organization_id, k.scopes, k.environment, o.parent_organization_id
    FROM organizations o WHERE o.id = k.organization_id;
END $$;
REVOKE ALL ON FUNCTION eal_authenticate(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eal_authenticate(bytea) TO eal_app;

-- Finds an invite by its token hash and makes its organization the tenant of
-- the current transaction (the caller has no API key yet).
CREATE FUNCTION eal_open_invite(p_hash bytea)
RETURNS TABLE (invite_id uuid, organization_id uuid, expires_at timestamptz, accepted_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  i org_invites%ROWTYPE;
BEGIN
  SELECT * INTO i FROM org_invites v WHERE v.token_hash = p_hash;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM set_config('app.organization_id', i.organization_id::text, true);
  RETURN QUERY SELECT i.id, i.organization_id, i.expires_at, i.accepted_at;
END $$;
REVOKE ALL ON FUNCTION eal_open_invite(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eal_open_invite(bytea) TO eal_app;

-- Audit log: append-only, hash-chained per organization.
CREATE TABLE platform_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  seq bigint NOT NULL,
  action text NOT NULL,
  source text NOT NULL CHECK (source IN ('api', 'cron', 'n8n', 'worker', 'system')),
  correlation_id text,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  prev_hash bytea NOT NULL,
  hash bytea NOT NULL,
  UNIQUE (organization_id, seq)
);
CREATE INDEX platform_events_page_idx ON platform_events (organization_id, created_at DESC, id DESC);
CREATE INDEX platform_events_action_idx
  ON platform_events (organization_id, action, created_at DESC, id DESC);
CREATE INDEX platform_events_created_idx ON platform_events (created_at);
ALTER TABLE platform_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_events FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_events_read ON platform_events FOR SELECT
  USING (organization_id = eal_current_org());
CREATE POLICY platform_events_append ON platform_events FOR INSERT
  WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT ON platform_events TO eal_app;

-- One row per organization: the last link of its chain (seq, hash) and the
-- anchor, the link just before its oldest retained entry ((0, zero hash)
-- until retention folds purged entries into it).
CREATE TABLE audit_chain_heads (
  organization_id uuid PRIMARY KEY REFERENCES organizations(id),
  last_seq bigint NOT NULL,
  last_hash bytea NOT NULL,
  anchor_seq bigint NOT NULL DEFAULT 0,
  anchor_hash bytea NOT NULL DEFAULT decode(repeat('00', 32), 'hex')
);
ALTER TABLE audit_chain_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_chain_heads_tenant ON audit_chain_heads
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());

-- The links (not the content) of entries removed by retention while an older
-- entry of their chain is still held, so the chain still verifies across the
-- gap. Retention folds them into the anchor once everything before them is gone.
CREATE TABLE audit_chain_purged (
  organization_id uuid NOT NULL REFERENCES organizations(id),
  seq bigint NOT NULL,
  prev_hash bytea NOT NULL,
  hash bytea NOT NULL,
  PRIMARY KEY (organization_id, seq)
);
ALTER TABLE audit_chain_purged ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_purged FORCE ROW LEVEL SECURITY;

-- The hash of one entry: its predecessor's hash followed by its own content.
CREATE FUNCTION eal_audit_hash(prev bytea, id uuid, org uuid, seq bigint, action text,
                               source text, correlation_id text, payload jsonb,
                               created_at timestamptz)
RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sha256(prev || convert_to(concat_ws('|', id::text, org::text, seq::text, action, source,
    coalesce(correlation_id, ''), payload::text,
    (extract(epoch FROM created_at) * 1000000)::bigint::text), 'UTF8'))
$$;

-- Links each new entry to its organization's chain. The chain head row lock
-- serialises appends per organization until the transaction ends. The head
-- row is written once per statement (below), not once per entry: every write
-- adds a row version that later lookups in the same transaction must step
-- over, which made a bulk insert quadratic. Entries of the running statement
-- are found through the (organization_id, seq) index instead.
CREATE FUNCTION eal_audit_chain() RETURNS trigger
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
  NEW.hash := eal_audit_hash(NEW.prev_hash, NEW.id, NEW.organization_id, NEW.seq, NEW.action,
                             NEW.source, NEW.correlation_id, NEW.payload, NEW.created_at);
  RETURN NEW;
END $$;
CREATE TRIGGER platform_events_chain BEFORE INSERT ON platform_events
  FOR EACH ROW EXECUTE FUNCTION eal_audit_chain();

-- Moves each organization's head to the last entry the statement appended.
CREATE FUNCTION eal_audit_chain_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  UPDATE audit_chain_heads h SET last_seq = t.seq, last_hash = t.hash
    FROM (SELECT DISTINCT ON (a.organization_id) a.organization_id, a.seq, a.hash
            FROM appended a ORDER BY a.organization_id, a.seq DESC) t
    WHERE h.organization_id = t.organization_id AND h.last_seq < t.seq;
  RETURN NULL;
END $$;
CREATE TRIGGER platform_events_chain_head AFTER INSERT ON platform_events
  REFERENCING NEW TABLE AS appended
  FOR EACH STATEMENT EXECUTE FUNCTION eal_audit_chain_head();

-- Entries are immutable; only the retention job may delete entries older than 7 years.
CREATE FUNCTION eal_audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.created_at < now() - interval '7 years' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'platform_events is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER platform_events_immutable BEFORE UPDATE OR DELETE ON platform_events
  FOR EACH ROW EXECUTE FUNCTION eal_audit_immutable();
CREATE FUNCTION eal_audit_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'platform_events is append-only (TRUNCATE refused)'
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER platform_events_no_truncate BEFORE TRUNCATE ON platform_events
  FOR EACH STATEMENT EXECUTE FUNCTION eal_audit_no_truncate();

-- Idempotency-Key replay store: one row per (API key, Idempotency-Key).
CREATE TABLE idempotency_keys (
  api_key_id uuid NOT NULL REFERENCES api_keys(id),
  idempotency_key text NOT NULL,
  organization_id uuid NOT NULL REFERENCES organizations(id),
  request_hash bytea NOT NULL,
  response_status integer NOT NULL,
  response_body bytea NOT NULL,
  response_headers jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (api_key_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_tenant ON idempotency_keys
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO eal_app;
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS platform_events;
DROP TABLE IF EXISTS audit_chain_purged;
DROP TABLE IF EXISTS audit_chain_heads;
DROP FUNCTION IF EXISTS eal_audit_chain();
DROP FUNCTION IF EXISTS eal_audit_chain_head();
DROP FUNCTION IF EXISTS eal_audit_immutable();
DROP FUNCTION IF EXISTS eal_audit_no_truncate();
DROP FUNCTION IF EXISTS eal_audit_hash(bytea, uuid, uuid, bigint, text, text, text, jsonb, timestamptz);
DROP FUNCTION IF EXISTS eal_open_invite(bytea);
DROP FUNCTION IF EXISTS eal_authenticate(bytea);
DROP TABLE IF EXISTS org_invites;
DROP TABLE IF EXISTS org_grants;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS organizations;
DROP FUNCTION IF EXISTS eal_current_org();
"""


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
