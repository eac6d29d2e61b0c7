"""Claims documentation: claims, their photos and their scope lines.

Revision ID: 0010_claims
Revises: 0009_content
"""

from eal.db.migrate import run_sql

revision = "0010_claims"
down_revision = "0009_content"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- One claim documentation job: what the project manager measured (rooms, drying
-- log, as the API received them) and what extraction derived from it (the room
-- geometry, photo summaries and the drying log with grains per pound).
-- photo_count and scope_item_count are kept by the service, for the list.
CREATE TABLE claims (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  loss_type text NOT NULL CHECK (loss_type IN ('water', 'fire', 'mold', 'biohazard', 'storm')),
  status text NOT NULL CHECK (status IN ('collecting', 'extracting', 'ready_for_review',
    'partially_reviewed', 'reviewed')),
  source_vendor text NOT NULL CHECK (source_vendor IN ('companycam', 'upload')),
  source_project_id text,
  job_external_ref text,
  water_category smallint CHECK (water_category BETWEEN 1 AND 3),
  water_class smallint CHECK (water_class BETWEEN 1 AND 4),
  date_of_loss date,
  address text,
  loss_lat double precision CHECK (loss_lat BETWEEN -90 AND 90),
  loss_lon double precision CHECK (loss_lon BETWEEN -180 AND 180),
  rooms jsonb NOT NULL DEFAULT '[]'::jsonb,
  drying_log jsonb NOT NULL DEFAULT '[]'::jsonb,
  extraction jsonb,
  import_error text,
  photo_count integer NOT NULL DEFAULT 0,
  scope_item_count integer NOT NULL DEFAULT 0,
  estimated_ready_at timestamptz,
  imported_at timestamptz,
  extracted_at timestamptz,
  reviewed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claims_page_idx ON claims (organization_id, created_at DESC, id DESC);
CREATE INDEX claims_status_page_idx ON claims (organization_id, status, created_at DESC, id DESC);
CREATE INDEX claims_loss_type_page_idx
  ON claims (organization_id, loss_type, created_at DESC, id DESC);
ALTER TABLE claims ENABLE ROW LEVEL SECURITY;
ALTER TABLE claims FORCE ROW LEVEL SECURITY;
CREATE POLICY claims_tenant ON claims
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
-- No DELETE: claim documentation is evidence.
GRANT SELECT, INSERT, UPDATE ON claims TO eal_app;

-- One photo of a claim, from CompanyCam (external_id is CompanyCam's photo id, so a
-- re-import adds only new ones) or uploaded through a signed URL. The image and its
-- thumbnail are in object storage under storage_key / thumbnail_key.
CREATE TABLE claim_photos (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  claim_id uuid NOT NULL REFERENCES claims(id),
  source text NOT NULL CHECK (source IN ('companycam', 'upload')),
  external_id text,
  filename text,
  room text,
  captured_at timestamptz,
  gps_lat double precision,
  gps_lon double precision,
  orientation smallint,
  tags text[] NOT NULL DEFAULT '{}'::text[],
  description text,
  content_type text NOT NULL,
  width integer NOT NULL,
  height integer NOT NULL,
  size_bytes integer NOT NULL CHECK (size_bytes > 0),
  sha256 text NOT NULL,
  phash text NOT NULL,
  storage_key text NOT NULL,
  thumbnail_key text NOT NULL,
  duplicate_of uuid REFERENCES claim_photos(id),
  near_duplicate_of uuid REFERENCES claim_photos(id),
  far_from_loss boolean,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX claim_photos_external_idx
  ON claim_photos (claim_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX claim_photos_claim_idx ON claim_photos (claim_id, created_at, id);
CREATE INDEX claim_photos_sha_idx ON claim_photos (claim_id, sha256);
ALTER TABLE claim_photos ENABLE ROW LEVEL SECURITY;
ALTER TABLE claim_photos FORCE ROW LEVEL SECURITY;
CREATE POLICY claim_photos_tenant ON claim_photos
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON claim_photos TO eal_app;

-- One scope line. line_key (room + catalog code) is stable across extraction runs, so
-- a decision on a line whose quantity did not change survives a re-run; lines added
-- by hand (origin 'manual') are never replaced by extraction.
CREATE TABLE claim_scope_items (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  claim_id uuid NOT NULL REFERENCES claims(id),
  line_key text NOT NULL,
  origin text NOT NULL CHECK (origin IN ('extracted', 'manual')),
  position integer NOT NULL,
  room text NOT NULL,
  code text NOT NULL,
  catalog_code text,
  description text NOT NULL,
  qty double precision NOT NULL CHECK (qty >= 0),
  unit text NOT NULL CHECK (unit IN ('SF', 'LF', 'EA', 'DAY', 'HR')),
  confidence double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
  needs_measurement boolean NOT NULL DEFAULT false,
  evidence jsonb NOT NULL DEFAULT '[]'::jsonb,
  units integer,
  days integer,
  estimated boolean,
  note text,
  decision text CHECK (decision IN ('approve', 'edit', 'reject')),
  decided_qty double precision CHECK (decided_qty >= 0),
  decision_note text,
  decision_reason text,
  decided_at timestamptz,
  decided_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX claim_scope_items_key_idx ON claim_scope_items (claim_id, line_key);
ALTER TABLE claim_scope_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE claim_scope_items FORCE ROW LEVEL SECURITY;
CREATE POLICY claim_scope_items_tenant ON claim_scope_items
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
-- DELETE: a re-run drops extracted lines its inputs no longer produce.
GRANT SELECT, INSERT, UPDATE, DELETE ON claim_scope_items TO eal_app;

-- Makes a claim's organization the tenant of the current transaction, for the
-- signed upload and download links (they carry no API key). The caller has
-- checked the link's signature over the claim id first.
CREATE FUNCTION eal_claim_tenant(p_claim uuid) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  org uuid;
BEGIN
  SELECT c.organization_id INTO org FROM claims c WHERE c.id = p_claim;
  IF FOUND THEN
    PERFORM set_config('app.organization_id', org::text, true);
  END IF;
  RETURN org;
END $$;
REVOKE ALL ON FUNCTION eal_claim_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eal_claim_tenant(uuid) TO eal_app;
"""

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS eal_claim_tenant(uuid);
DROP TABLE IF EXISTS claim_scope_items;
DROP TABLE IF EXISTS claim_photos;
DROP TABLE IF EXISTS claims;
"""


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
