"""Calls: inbound calls with their transcript, classification, human correction and dispatch.

Revision ID: 0007_calls
Revises: 0006_outreach
"""

from eal.db.migrate import run_sql

revision = "0007_calls"
down_revision = "0006_outreach"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- One inbound call. (source, external_id) is the tracker's id: a second
-- delivery of the same call updates this row. caller_number is E.164 when it
-- parsed (caller_number_valid), else kept as given. recording_url is the
-- vendor's private URL: the API only shows a signed link to this service.
-- intent/urgency/qualified are the classification in force (a human's
-- correction, else the model's), kept as columns for filters and stats;
-- model_classification is what the model said, whatever a human said after.
CREATE TABLE calls (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  source text NOT NULL,
  external_id text,
  tracking_number text,
  caller_number text NOT NULL,
  caller_number_valid boolean NOT NULL,
  caller_name text,
  caller_postal_code text,
  caller_city text,
  caller_state text,
  duration_seconds integer NOT NULL CHECK (duration_seconds >= 0),
  answered boolean,
  voicemail boolean,
  received_at timestamptz NOT NULL,
  transcript text,
  transcript_source text CHECK (transcript_source IN ('tracker', 'speech_to_text')),
  transcript_at timestamptz,
  transcription_error text,
  recording_url text,
  environment text NOT NULL DEFAULT 'live' CHECK (environment IN ('live', 'test')),
  dispatch_allowed boolean NOT NULL DEFAULT true,
  status text NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'classified', 'dispatched', 'dispatch_failed')),
  intent text CHECK (intent IN
    ('water', 'fire', 'mold', 'biohazard', 'sales_pitch', 'wrong_number', 'other')),
  urgency text CHECK (urgency IN ('high', 'medium', 'low')),
  qualified boolean,
  confidence double precision CHECK (confidence >= 0 AND confidence <= 1),
  model_classification jsonb,
  corrected boolean NOT NULL DEFAULT false,
  correction_note text,
  corrected_at timestamptz,
  first_classified_at timestamptz,
  classified_at timestamptz,
  decision jsonb,
  dispatch_action text
    CHECK (dispatch_action IN ('auto_dispatch', 'owner_review', 'callback_queue', 'ignore')),
  dispatch_error text,
  lead_id uuid REFERENCES leads(id),
  callback_message_id uuid,
  crm_job_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX calls_external_idx
  ON calls (organization_id, source, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX calls_page_idx ON calls (organization_id, received_at DESC, id DESC);
CREATE INDEX calls_caller_idx ON calls (organization_id, caller_number);
CREATE INDEX calls_corrected_idx ON calls (organization_id, corrected_at) WHERE corrected;
ALTER TABLE calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE calls FORCE ROW LEVEL SECURITY;
CREATE POLICY calls_tenant ON calls
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON calls TO eal_app;

-- Makes a call's organization the tenant of the current transaction, for the
-- signed recording link (it carries no API key). The caller has checked the
-- link's signature over the call id first.
CREATE FUNCTION eal_call_tenant(p_call uuid) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  org uuid;
BEGIN
  SELECT c.organization_id INTO org FROM calls c WHERE c.id = p_call;
  IF FOUND THEN
    PERFORM set_config('app.organization_id', org::text, true);
  END IF;
  RETURN org;
END $$;
REVOKE ALL ON FUNCTION eal_call_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eal_call_tenant(uuid) TO eal_app;

-- A dispatched call becomes a lead found by the caller's number: a caller is
-- reachable by phone alone, so a lead may now have only a phone (the API's own
-- rule for POST /leads is unchanged).
CREATE INDEX leads_phone_idx ON leads (organization_id, phone) WHERE phone IS NOT NULL;

-- A lead is never refused for a phone number that does not parse: it is kept as given,
-- and phone_valid says so (null without a phone). Phones stored before were all valid.
ALTER TABLE leads ADD COLUMN phone_valid boolean;
UPDATE leads SET phone_valid = true WHERE phone IS NOT NULL;
ALTER TABLE leads DROP CONSTRAINT leads_contact_required;
ALTER TABLE leads ADD CONSTRAINT leads_contact_required
  CHECK (email IS NOT NULL OR phone IS NOT NULL OR (name IS NOT NULL AND company IS NOT NULL));
"""

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS eal_call_tenant(uuid);
DROP TABLE IF EXISTS calls;
DROP INDEX IF EXISTS leads_phone_idx;
ALTER TABLE leads DROP COLUMN IF EXISTS phone_valid;
ALTER TABLE leads DROP CONSTRAINT leads_contact_required;
ALTER TABLE leads ADD CONSTRAINT leads_contact_required
  CHECK (email IS NOT NULL OR (name IS NOT NULL AND company IS NOT NULL)) NOT VALID;
"""


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
