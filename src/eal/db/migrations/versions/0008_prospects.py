"""Prospects: outbound B2B records, their qualification, and batch qualification runs.

Revision ID: 0008_prospects
Revises: 0007_calls
"""

from eal.db.migrate import run_sql

revision = "0008_prospects"
down_revision = "0007_calls"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- One outbound prospect (a company to win as a client), separate from inbound leads.
-- contact_email is stored lower-case and company_key is the company name folded
-- (lower-case, punctuation and legal suffixes dropped) so the duplicate rules
-- (same email, or same company in the same postal code) are index lookups.
-- fit_score is who the prospect is; engagement_score is how it answered outreach
-- (null before any): two scores, never blended.
CREATE TABLE prospects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  company_name text NOT NULL CHECK (length(company_name) > 0),
  company_key text NOT NULL,
  contact_name text,
  contact_email text,
  contact_phone text,
  vertical text CHECK (vertical IN ('property_management', 'multifamily', 'hoa', 'healthcare',
    'education', 'hospitality', 'restaurant', 'office', 'retail', 'industrial', 'government',
    'other')),
  website text,
  postal_code text,
  buildings_managed integer CHECK (buildings_managed >= 0),
  units integer CHECK (units >= 0),
  incumbent_vendor text,
  notes text,
  qualification_status text NOT NULL DEFAULT 'pending'
    CHECK (qualification_status IN ('pending', 'qualified', 'disqualified', 'needs_review')),
  outreach_status text NOT NULL DEFAULT 'none'
    CHECK (outreach_status IN ('none', 'sequence_active', 'replied', 'opted_out', 'completed')),
  fit_score smallint CHECK (fit_score BETWEEN 0 AND 100),
  engagement_score smallint CHECK (engagement_score BETWEEN 0 AND 100),
  rationale jsonb,
  qualification_provider text,
  qualified_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX prospects_email_idx
  ON prospects (organization_id, contact_email) WHERE contact_email IS NOT NULL;
CREATE UNIQUE INDEX prospects_company_idx
  ON prospects (organization_id, company_key, postal_code) WHERE postal_code IS NOT NULL;
-- Keyset pages (newest first) for the unfiltered list and each list filter.
CREATE INDEX prospects_page_idx ON prospects (organization_id, created_at DESC, id DESC);
CREATE INDEX prospects_qualification_page_idx
  ON prospects (organization_id, qualification_status, created_at DESC, id DESC);
CREATE INDEX prospects_vertical_page_idx
  ON prospects (organization_id, vertical, created_at DESC, id DESC);
CREATE INDEX prospects_outreach_page_idx
  ON prospects (organization_id, outreach_status, created_at DESC, id DESC);
ALTER TABLE prospects ENABLE ROW LEVEL SECURITY;
ALTER TABLE prospects FORCE ROW LEVEL SECURITY;
CREATE POLICY prospects_tenant ON prospects
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
-- No DELETE: a prospect that is not a fit is disqualified, not erased.
GRANT SELECT, INSERT, UPDATE ON prospects TO eal_app;

-- One batch qualification (POST /prospects/qualify with prospect_ids), run as a job.
-- results maps each prospect id to its verdict (or its error) once qualified.
CREATE TABLE prospect_qualify_batches (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  prospect_ids uuid[] NOT NULL CHECK (cardinality(prospect_ids) BETWEEN 1 AND 500),
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed')),
  results jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
ALTER TABLE prospect_qualify_batches ENABLE ROW LEVEL SECURITY;
ALTER TABLE prospect_qualify_batches FORCE ROW LEVEL SECURITY;
CREATE POLICY prospect_qualify_batches_tenant ON prospect_qualify_batches
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON prospect_qualify_batches TO eal_app;

-- A prospect's outreach_status follows its enrollments (outreach_enrollments.prospect_id,
-- from 0006), however they change: an opt-out is final; else a running enrollment makes it
-- sequence_active; else the last one to finish says replied, completed, or none (unenrolled).
CREATE INDEX outreach_enrollments_prospect_person_idx
  ON outreach_enrollments (prospect_id) WHERE prospect_id IS NOT NULL;
CREATE FUNCTION eal_prospect_outreach_status() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  next_status text;
BEGIN
  SELECT CASE
    WHEN bool_or(e.stop_reason = 'opted_out') THEN 'opted_out'
    WHEN bool_or(e.status IN ('active', 'paused')) THEN 'sequence_active'
    ELSE coalesce((
      SELECT CASE f.stop_reason WHEN 'replied' THEN 'replied' WHEN 'unenrolled' THEN 'none'
                                ELSE 'completed' END
      FROM outreach_enrollments f
      WHERE f.prospect_id = NEW.prospect_id AND f.finished_at IS NOT NULL
      ORDER BY f.finished_at DESC, f.id DESC LIMIT 1), 'none')
  END INTO next_status
  FROM outreach_enrollments e WHERE e.prospect_id = NEW.prospect_id;
  UPDATE prospects SET outreach_status = next_status
  WHERE id = NEW.prospect_id AND outreach_status IS DISTINCT FROM next_status;
  RETURN NULL;
END $$;
CREATE TRIGGER outreach_enrollments_prospect_status
  AFTER INSERT OR UPDATE OF status, stop_reason, finished_at ON outreach_enrollments
  FOR EACH ROW WHEN (NEW.prospect_id IS NOT NULL)
  EXECUTE FUNCTION eal_prospect_outreach_status();
"""

DOWNGRADE = r"""
DROP TRIGGER IF EXISTS outreach_enrollments_prospect_status ON outreach_enrollments;
DROP FUNCTION IF EXISTS eal_prospect_outreach_status();
DROP INDEX IF EXISTS outreach_enrollments_prospect_person_idx;
DROP TABLE IF EXISTS prospect_qualify_batches;
DROP TABLE IF EXISTS prospects;
"""


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
