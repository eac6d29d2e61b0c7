"""The operator console: its users, their one-time sign-in links and their sessions.

Revision ID: 0011_console
Revises: 0010_claims
"""

from eal.db.migrate import run_sql

revision = "0011_console"
down_revision = "0010_claims"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- A person who signs in to the console for one organization. The role maps onto
-- the API's scopes: staff read, manager write, owner admin.
CREATE TABLE console_users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  email text NOT NULL CHECK (email = lower(email)),
  role text NOT NULL CHECK (role IN ('owner', 'manager', 'staff')),
  created_at timestamptz NOT NULL DEFAULT now(),
  disabled_at timestamptz
);
CREATE UNIQUE INDEX console_users_email_idx ON console_users (organization_id, email);
ALTER TABLE console_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE console_users FORCE ROW LEVEL SECURITY;
CREATE POLICY console_users_tenant ON console_users
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON console_users TO eal_app;

-- A one-time sign-in link (only its hash is kept), valid until expires_at.
CREATE TABLE console_links (
  token_hash bytea PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations(id),
  user_id uuid NOT NULL REFERENCES console_users(id),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX console_links_user_idx ON console_links (user_id);
ALTER TABLE console_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE console_links FORCE ROW LEVEL SECURITY;
CREATE POLICY console_links_tenant ON console_links
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON console_links TO eal_app;

-- A signed-in browser (only the cookie's hash is kept). Opened by a user's link or by
-- an admin API key (api_key_id, no user). Valid until revoked or idle too long.
CREATE TABLE console_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash bytea NOT NULL UNIQUE,
  organization_id uuid NOT NULL REFERENCES organizations(id),
  user_id uuid REFERENCES console_users(id),
  api_key_id uuid REFERENCES api_keys(id),
  role text NOT NULL CHECK (role IN ('owner', 'manager', 'staff')),
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  revoked_at timestamptz,
  CHECK ((user_id IS NULL) <> (api_key_id IS NULL))
);
CREATE INDEX console_sessions_user_idx ON console_sessions (user_id);
ALTER TABLE console_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE console_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY console_sessions_tenant ON console_sessions
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON console_sessions TO eal_app;

-- A browser request carries no API key: its cookie names the session. Like
-- eal_authenticate, this finds a live session by its hash, sets its organization as
-- the transaction's tenant and notes the activity (at most once a minute).
CREATE FUNCTION eal_console_session(p_hash bytea, p_now timestamptz, p_idle interval)
RETURNS TABLE (session_id uuid, organization_id uuid, user_id uuid, api_key_id uuid,
               role text, csrf_token text, email text, environment text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  s console_sessions%ROWTYPE;
BEGIN
  SELECT * INTO s FROM console_sessions c
    WHERE c.token_hash = p_hash AND c.revoked_at IS NULL AND c.last_seen_at > p_now - p_idle;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  -- A disabled user, or a revoked key, ends the sessions it opened.
  IF s.user_id IS NOT NULL AND EXISTS (
       SELECT 1 FROM console_users u WHERE u.id = s.user_id AND u.disabled_at IS NOT NULL)
     OR s.api_key_id IS NOT NULL AND EXISTS (
       SELECT 1 FROM api_keys k WHERE k.id = s.api_key_id AND k.revoked_at IS NOT NULL) THEN
    RETURN;
  END IF;
  PERFORM set_config('app.organization_id', s.organization_id::text, true);
  IF s.last_seen_at < p_now - interval '60 seconds' THEN
    UPDATE console_sessions c SET last_seen_at = p_now
      WHERE c.id = (SELECT d.id FROM console_sessions d WHERE d.id = s.id
                    FOR UPDATE SKIP LOCKED);
  END IF;
  -- A session opened with a test key acts as that key does: never for real.
  RETURN QUERY SELECT s.id, s.organization_id, s.user_id, s.api_key_id, s.role, s.csrf_token,
    (SELECT u.email FROM console_users u WHERE u.id = s.user_id),
    COALESCE((SELECT k.environment FROM api_keys k WHERE k.id = s.api_key_id), 'live');
END $$;
REVOKE ALL ON FUNCTION eal_console_session(bytea, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eal_console_session(bytea, timestamptz, interval) TO eal_app;

-- A sign-in link carries no key either: its hash names the organization. The caller
-- redeems it in the same transaction (console_links.used_at).
CREATE FUNCTION eal_console_link_tenant(p_hash bytea) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  org uuid;
BEGIN
  SELECT l.organization_id INTO org FROM console_links l WHERE l.token_hash = p_hash;
  IF FOUND THEN
    PERFORM set_config('app.organization_id', org::text, true);
  END IF;
  RETURN org;
END $$;
REVOKE ALL ON FUNCTION eal_console_link_tenant(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eal_console_link_tenant(bytea) TO eal_app;

-- Sign-in by email names no organization: the users of that address, across
-- organizations, get a link each.
CREATE FUNCTION eal_console_users_by_email(p_email text)
RETURNS TABLE (user_id uuid, organization_id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT u.id, u.organization_id FROM console_users u
    WHERE u.email = lower(p_email) AND u.disabled_at IS NULL
$$;
REVOKE ALL ON FUNCTION eal_console_users_by_email(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eal_console_users_by_email(text) TO eal_app;
"""

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS eal_console_users_by_email(text);
DROP FUNCTION IF EXISTS eal_console_link_tenant(bytea);
DROP FUNCTION IF EXISTS eal_console_session(bytea, timestamptz, interval);
DROP TABLE IF EXISTS console_sessions;
DROP TABLE IF EXISTS console_links;
DROP TABLE IF EXISTS console_users;
"""


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
