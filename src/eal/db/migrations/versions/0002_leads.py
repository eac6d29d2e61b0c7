"""Leads (with scoring and CRM sync state) and per-organization weather events.

Revision ID: 0002_leads
Revises: 0001_core
"""

from eal.db.migrate import run_sql

revision = "0002_leads"
down_revision = "0001_core"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE leads (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  name text,
  company text,
  email text,
  phone text,
  source text,
  lead_score smallint NOT NULL DEFAULT 0 CHECK (lead_score BETWEEN 0 AND 100),
  pipeline_stage text NOT NULL DEFAULT 'new'
    CHECK (pipeline_stage IN ('new', 'contacted', 'qualified', 'proposal', 'won', 'lost')),
  industry text,
  company_size text,
  pain_points text,
  timeline text,
  budget_range text,
  ai_reasoning text,
  qualification_completed_at timestamptz,
  scored_at timestamptz,
  postal_code text,
  address text,
  message text,
  form_started_at timestamptz,
  form_submitted_at timestamptz,
  crm_vendor text,
  crm_external_id text,
  crm_status text CHECK (crm_status IN ('ok', 'simulated', 'error')),
  crm_error text,
  crm_last_synced_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- The API's contact rule, kept by the database too: a lead is reachable.
  CONSTRAINT leads_contact_required
    CHECK (email IS NOT NULL OR (name IS NOT NULL AND company IS NOT NULL))
);
-- Keyset pages (newest first) for the unfiltered list and each list filter.
CREATE INDEX leads_page_idx ON leads (organization_id, created_at DESC, id DESC);
CREATE INDEX leads_stage_page_idx
  ON leads (organization_id, pipeline_stage, created_at DESC, id DESC);
CREATE INDEX leads_source_page_idx
  ON leads (organization_id, source, created_at DESC, id DESC);
ALTER TABLE leads ENABLE ROW LEVEL SECURITY;
ALTER TABLE leads FORCE ROW LEVEL SECURITY;
CREATE POLICY leads_tenant ON leads
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
-- No DELETE: leads leave the pipeline as 'lost', they are not erased by the API.
GRANT SELECT, INSERT, UPDATE ON leads TO eal_app;

-- Severe weather an organization's operator (or feed) recorded for its area.
CREATE TABLE weather_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  event_type text NOT NULL
    CHECK (event_type IN ('storm', 'freeze', 'flood', 'hail', 'hurricane', 'tornado', 'wildfire')),
  postal_codes text[] NOT NULL CHECK (cardinality(postal_codes) > 0),
  occurred_at timestamptz NOT NULL,
  severity text CHECK (severity IN ('minor', 'moderate', 'severe', 'extreme')),
  description text,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- Scoring reads the events of a 7-day window; the list pages by creation.
CREATE INDEX weather_events_occurred_idx ON weather_events (organization_id, occurred_at DESC);
CREATE INDEX weather_events_page_idx ON weather_events (organization_id, created_at DESC, id DESC);
ALTER TABLE weather_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE weather_events FORCE ROW LEVEL SECURITY;
CREATE POLICY weather_events_tenant ON weather_events
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT ON weather_events TO eal_app;
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS weather_events;
DROP TABLE IF EXISTS leads;
"""


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
