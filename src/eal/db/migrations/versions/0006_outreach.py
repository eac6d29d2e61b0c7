"""Outreach: messages and their status history, suppressions, sequences, enrollments, inbound secrets.

Revision ID: 0006_outreach
Revises: 0005_job_queue
"""

from eal.db.migrate import run_sql

revision = "0006_outreach"
down_revision = "0005_job_queue"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE outreach_sequences (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  name text NOT NULL,
  channel text NOT NULL CHECK (channel IN ('sms', 'email')),
  steps jsonb NOT NULL CHECK (jsonb_typeof(steps) = 'array' AND jsonb_array_length(steps) > 0),
  sending_window jsonb NOT NULL,
  active boolean NOT NULL DEFAULT true,
  archived_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outreach_sequences_page_idx
  ON outreach_sequences (organization_id, created_at DESC, id DESC) WHERE archived_at IS NULL;
ALTER TABLE outreach_sequences ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach_sequences FORCE ROW LEVEL SECURITY;
CREATE POLICY outreach_sequences_tenant ON outreach_sequences
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON outreach_sequences TO eal_app;

-- One person in one sequence. next_step is the index of the next step to send,
-- due at next_due_at (a paused enrollment's is its paused_until); a step's
-- message row (below) is unique per (enrollment, step), so a step is sent at
-- most once whatever the workers and retries do. environment: a test key's
-- enrollments are simulated, never sent.
CREATE TABLE outreach_enrollments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  sequence_id uuid NOT NULL REFERENCES outreach_sequences(id),
  lead_id uuid REFERENCES leads(id),
  prospect_id uuid,
  address text NOT NULL,
  status text NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'paused', 'completed', 'stopped')),
  stop_reason text
    CHECK (stop_reason IN ('replied', 'opted_out', 'bounced', 'won', 'lost', 'unenrolled')),
  next_step integer NOT NULL DEFAULT 0 CHECK (next_step >= 0),
  next_due_at timestamptz,
  paused_until timestamptz,
  environment text NOT NULL DEFAULT 'live' CHECK (environment IN ('live', 'test')),
  enrolled_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT outreach_enrollments_person CHECK (lead_id IS NOT NULL OR prospect_id IS NOT NULL)
);
CREATE UNIQUE INDEX outreach_enrollments_lead_idx
  ON outreach_enrollments (sequence_id, lead_id) WHERE lead_id IS NOT NULL;
CREATE UNIQUE INDEX outreach_enrollments_prospect_idx
  ON outreach_enrollments (sequence_id, prospect_id) WHERE prospect_id IS NOT NULL;
CREATE INDEX outreach_enrollments_page_idx
  ON outreach_enrollments (sequence_id, created_at DESC, id DESC);
-- Replies, opt-outs and bounces stop every running enrollment of an address.
CREATE INDEX outreach_enrollments_address_idx
  ON outreach_enrollments (organization_id, address) WHERE status IN ('active', 'paused');
CREATE INDEX outreach_enrollments_lead_running_idx
  ON outreach_enrollments (organization_id, lead_id) WHERE status IN ('active', 'paused');
-- A sequence run claims its due enrollments; the minute sweep finds the due sequences.
CREATE INDEX outreach_enrollments_due_idx
  ON outreach_enrollments (sequence_id, next_due_at) WHERE status IN ('active', 'paused');
CREATE INDEX outreach_enrollments_sweep_idx
  ON outreach_enrollments (next_due_at) WHERE status IN ('active', 'paused');
ALTER TABLE outreach_enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach_enrollments FORCE ROW LEVEL SECURITY;
CREATE POLICY outreach_enrollments_tenant ON outreach_enrollments
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON outreach_enrollments TO eal_app;

-- Every message sent or received, SMS or email.
CREATE TABLE outreach_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  channel text NOT NULL CHECK (channel IN ('sms', 'email')),
  direction text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
  purpose text NOT NULL DEFAULT 'transactional' CHECK (purpose IN ('transactional', 'marketing')),
  to_address text NOT NULL,
  from_address text,
  subject text,
  body text NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed',
                                         'undelivered', 'simulated', 'received')),
  scheduled_for timestamptz,
  provider text,
  provider_message_id text,
  error text,
  error_code text,
  lead_id uuid REFERENCES leads(id),
  prospect_id uuid,
  enrollment_id uuid REFERENCES outreach_enrollments(id),
  step_index integer,
  reply_to_message_id uuid REFERENCES outreach_messages(id),
  classification text,
  email_message_id text,
  job_id bigint,
  opened_at timestamptz,
  sent_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT outreach_messages_step CHECK ((enrollment_id IS NULL) = (step_index IS NULL))
);
CREATE INDEX outreach_messages_page_idx
  ON outreach_messages (organization_id, created_at DESC, id DESC);
-- Send limits count an organization's outbound messages of a channel per 24 hours,
-- and per-recipient caps count those to one address.
CREATE INDEX outreach_messages_volume_idx
  ON outreach_messages (organization_id, channel, created_at) WHERE direction = 'outbound';
CREATE INDEX outreach_messages_recipient_idx
  ON outreach_messages (organization_id, to_address, created_at) WHERE direction = 'outbound';
CREATE INDEX outreach_messages_lead_idx
  ON outreach_messages (organization_id, lead_id, created_at DESC) WHERE lead_id IS NOT NULL;
CREATE INDEX outreach_messages_provider_idx
  ON outreach_messages (organization_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX outreach_messages_email_id_idx
  ON outreach_messages (organization_id, email_message_id) WHERE email_message_id IS NOT NULL;
-- The exactly-once rule of sequence steps.
CREATE UNIQUE INDEX outreach_messages_step_idx
  ON outreach_messages (enrollment_id, step_index) WHERE enrollment_id IS NOT NULL;
-- Messages a job was sending when it stopped (a killed worker) are found by its id.
CREATE INDEX outreach_messages_sending_idx
  ON outreach_messages (job_id) WHERE status = 'sending';
-- Replies to a message (sequence stats).
CREATE INDEX outreach_messages_reply_idx
  ON outreach_messages (reply_to_message_id) WHERE reply_to_message_id IS NOT NULL;
ALTER TABLE outreach_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY outreach_messages_tenant ON outreach_messages
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON outreach_messages TO eal_app;

-- The status history of each message (queued, sent, delivered, ...).
CREATE TABLE outreach_message_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  message_id uuid NOT NULL REFERENCES outreach_messages(id) ON DELETE CASCADE,
  status text NOT NULL,
  detail text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outreach_message_events_message_idx
  ON outreach_message_events (message_id, created_at, id);
ALTER TABLE outreach_message_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach_message_events FORCE ROW LEVEL SECURITY;
CREATE POLICY outreach_message_events_tenant ON outreach_message_events
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT ON outreach_message_events TO eal_app;

-- Addresses nothing is sent to. One row per (organization, channel, address),
-- the address normalised (E.164, lower-case email) so formatting cannot dodge it.
CREATE TABLE outreach_suppressions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  channel text NOT NULL CHECK (channel IN ('sms', 'email')),
  address text NOT NULL,
  reason text NOT NULL CHECK (reason ~ '^[a-z][a-z0-9_]{0,63}$'),
  source text NOT NULL,
  message_id uuid REFERENCES outreach_messages(id),
  confirmation_sent_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (organization_id, channel, address)
);
CREATE INDEX outreach_suppressions_page_idx
  ON outreach_suppressions (organization_id, created_at DESC, id DESC);
ALTER TABLE outreach_suppressions ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach_suppressions FORCE ROW LEVEL SECURITY;
CREATE POLICY outreach_suppressions_tenant ON outreach_suppressions
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE, DELETE ON outreach_suppressions TO eal_app;

-- The bearer secret an email provider's inbound parse sends (only its hash).
CREATE TABLE outreach_inbound_secrets (
  organization_id uuid PRIMARY KEY REFERENCES organizations(id),
  secret_hash bytea NOT NULL,
  secret_prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE outreach_inbound_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach_inbound_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY outreach_inbound_secrets_tenant ON outreach_inbound_secrets
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON outreach_inbound_secrets TO eal_app;
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS outreach_inbound_secrets;
DROP TABLE IF EXISTS outreach_suppressions;
DROP TABLE IF EXISTS outreach_message_events;
DROP TABLE IF EXISTS outreach_messages;
DROP TABLE IF EXISTS outreach_enrollments;
DROP TABLE IF EXISTS outreach_sequences;
"""


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
