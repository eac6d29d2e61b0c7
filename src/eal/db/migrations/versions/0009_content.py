"""Content: generated posts, scripts and review replies, their revisions and publications; reviews.

Revision ID: 0009_content
Revises: 0008_prospects
"""

from eal.db.migrate import run_sql

revision = "0009_content"
down_revision = "0008_prospects"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- One piece of content: a blog post, a video script (its 30-second cutdown is
-- an item of its own whose parent_id names the script), a social post or a
-- reply to a review. body is the Markdown of a post, the voiceover of a script
-- or the text of a reply. request is what was asked for, kept to check an
-- edited post against the same rules. channel, url and published_at describe
-- the first channel it went out on; content_publications has every channel.
CREATE TABLE content_items (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  type text NOT NULL CHECK (type IN ('blog', 'video', 'social', 'review_response')),
  status text NOT NULL CHECK (status IN
    ('generating', 'draft', 'pending_owner_approval', 'scheduled', 'published', 'failed')),
  title text,
  body text,
  meta_description text,
  slug text,
  target_keyword text,
  outline jsonb,
  scenes jsonb,
  seo_checks jsonb,
  word_count integer CHECK (word_count >= 0),
  estimated_read_time_min integer CHECK (estimated_read_time_min >= 0),
  format text,
  duration_seconds integer CHECK (duration_seconds > 0),
  platform text,
  external_review_id text,
  rating integer CHECK (rating BETWEEN 1 AND 5),
  sentiment text CHECK (sentiment IN ('positive', 'neutral', 'negative', 'mixed')),
  provider text,
  parent_id uuid REFERENCES content_items(id),
  request jsonb NOT NULL DEFAULT '{}'::jsonb,
  environment text NOT NULL DEFAULT 'live' CHECK (environment IN ('live', 'test')),
  revision integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
  channel text,
  url text,
  published_at timestamptz,
  approved_at timestamptz,
  approved_by uuid,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX content_items_page_idx ON content_items (organization_id, created_at DESC, id DESC);
CREATE INDEX content_items_parent_idx ON content_items (parent_id) WHERE parent_id IS NOT NULL;
ALTER TABLE content_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE content_items FORCE ROW LEVEL SECURITY;
CREATE POLICY content_items_tenant ON content_items
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON content_items TO eal_app;

-- The text of an item before an edit: revision n holds what revision n was.
CREATE TABLE content_revisions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  content_id uuid NOT NULL REFERENCES content_items(id),
  revision integer NOT NULL CHECK (revision >= 1),
  title text,
  body text,
  meta_description text,
  edited_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (content_id, revision)
);
ALTER TABLE content_revisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE content_revisions FORCE ROW LEVEL SECURITY;
CREATE POLICY content_revisions_tenant ON content_revisions
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT ON content_revisions TO eal_app;

-- One item on one channel: published now, scheduled for later, or why not.
CREATE TABLE content_publications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  content_id uuid NOT NULL REFERENCES content_items(id),
  channel text NOT NULL,
  status text NOT NULL CHECK (status IN
    ('scheduled', 'publishing', 'published', 'simulated', 'failed', 'not_configured')),
  scheduled_for timestamptz,
  url text,
  external_id text,
  error text,
  published_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (content_id, channel)
);
CREATE INDEX content_publications_due_idx ON content_publications (scheduled_for)
  WHERE status = 'scheduled';
ALTER TABLE content_publications ENABLE ROW LEVEL SECURITY;
ALTER TABLE content_publications FORCE ROW LEVEL SECURITY;
CREATE POLICY content_publications_tenant ON content_publications
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON content_publications TO eal_app;

-- A review found on a listing surface, once per (organization, platform,
-- review_id); reply_content_id is the reply drafted for it.
CREATE TABLE reviews (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  platform text NOT NULL,
  review_id text NOT NULL,
  rating integer CHECK (rating BETWEEN 1 AND 5),
  text text,
  author text,
  url text,
  review_created_at timestamptz,
  sentiment text NOT NULL CHECK (sentiment IN ('positive', 'neutral', 'negative', 'mixed')),
  reply_content_id uuid REFERENCES content_items(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (organization_id, platform, review_id)
);
CREATE INDEX reviews_page_idx ON reviews (organization_id, created_at DESC, id DESC);
ALTER TABLE reviews ENABLE ROW LEVEL SECURITY;
ALTER TABLE reviews FORCE ROW LEVEL SECURITY;
CREATE POLICY reviews_tenant ON reviews
  USING (organization_id = eal_current_org()) WITH CHECK (organization_id = eal_current_org());
GRANT SELECT, INSERT, UPDATE ON reviews TO eal_app;
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS reviews;
DROP TABLE IF EXISTS content_publications;
DROP TABLE IF EXISTS content_revisions;
DROP TABLE IF EXISTS content_items;
"""


def upgrade() -> None:
    run_sql(UPGRADE)


def downgrade() -> None:
    run_sql(DOWNGRADE)
