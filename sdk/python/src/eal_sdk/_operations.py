"""Every operation of the service's OpenAPI document, and where the client offers it.

``OPERATIONS`` maps each ``operationId`` to its method on the client, as a
dotted path from the client (``"leads.list"`` is ``client.leads.list``).
``NOT_IN_CLIENT`` names the operations the client leaves out, each with the
reason. Together they cover the document exactly (a test checks it); the
resource methods are generated from this table by ``tools/generate.py``.
"""

from __future__ import annotations

from typing import Final

OPERATIONS: Final[dict[str, str]] = {
    "health-health": "health.get",
    # Organizations
    "organizations-get-me": "organizations.me",
    "organizations-list-children": "organizations.list",
    "organizations-create-child": "organizations.create",
    "organizations-update-organization": "organizations.update",
    "organizations-create-grant": "organizations.create_grant",
    "organizations-accept-invite": "invites.accept",
    # Leads
    "leads-list-leads": "leads.list",
    "leads-create-lead": "leads.create",
    "leads-get-lead": "leads.get",
    "leads-update-lead": "leads.update",
    "leads-score-lead": "leads.score",
    "leads-push-to-crm": "leads.push_to_crm",
    # Weather events (lead-scoring signals)
    "weather-events-record-weather-event": "weather_events.create",
    "weather-events-list-weather-events": "weather_events.list",
    # Audit log
    "audit-log-list-audit-log": "audit_log.list",
    "audit-log-get-audit-entry": "audit_log.get",
    "audit-log-export-audit-log": "audit_log.export_csv",
    # Webhooks
    "webhooks-list-webhooks": "webhooks.list",
    "webhooks-create-webhook": "webhooks.create",
    "webhooks-get-webhook": "webhooks.get",
    "webhooks-update-webhook": "webhooks.update",
    "webhooks-delete-webhook": "webhooks.delete",
    "webhooks-rotate-secret": "webhooks.rotate_secret",
    "webhooks-list-deliveries": "webhooks.list_deliveries",
    "webhooks-redeliver": "webhooks.redeliver",
    # Calls
    "calls-create-call": "calls.create",
    "calls-list-calls": "calls.list",
    "calls-call-stats": "calls.stats",
    "calls-export-corrections": "calls.export_corrections",
    "calls-get-call": "calls.get",
    "calls-correct-call": "calls.correct",
    "calls-classify-call": "calls.classify",
    "calls-hooks-call-recording": "calls.recording",
    # Outreach
    "outreach-send": "outreach.send",
    "outreach-list-messages": "outreach.messages.list",
    "outreach-get-message": "outreach.messages.get",
    "outreach-list-suppressions": "outreach.suppressions.list",
    "outreach-add-suppression": "outreach.suppressions.create",
    "outreach-remove-suppression": "outreach.suppressions.delete",
    "outreach-create-inbound-secret": "outreach.create_inbound_secret",
    "outreach-list-sequences": "outreach.sequences.list",
    "outreach-create-sequence": "outreach.sequences.create",
    "outreach-get-sequence": "outreach.sequences.get",
    "outreach-update-sequence": "outreach.sequences.update",
    "outreach-archive-sequence": "outreach.sequences.archive",
    "outreach-enroll": "outreach.sequences.enroll",
    "outreach-list-enrollments": "outreach.sequences.list_enrollments",
    "outreach-unenroll": "outreach.sequences.unenroll",
    # Prospects
    "prospects-list-prospects": "prospects.list",
    "prospects-create-prospect": "prospects.create",
    "prospects-import-prospects": "prospects.import_csv",
    "prospects-qualify-prospects": "prospects.qualify",
    "prospects-get-qualify-batch": "prospects.get_qualify_batch",
    "prospects-get-prospect": "prospects.get",
    "prospects-update-prospect": "prospects.update",
    "prospects-enroll-prospect": "prospects.enroll",
    # Content
    "content-list-content": "content.list",
    "content-create-blog": "content.create_blog",
    "content-create-video-script": "content.create_video_script",
    "content-create-review-response": "content.create_review_response",
    "content-get-content": "content.get",
    "content-update-content": "content.update",
    "content-list-revisions": "content.list_revisions",
    "content-approve-content": "content.approve",
    "content-publish-content": "content.publish",
    # Reviews
    "reviews-request-review": "reviews.request",
    "reviews-record-review": "reviews.record",
    # Claims (documentation assist)
    "claims-list-claims": "claims.list",
    "claims-create-claim": "claims.create",
    "claims-get-claim": "claims.get",
    "claims-replace-rooms": "claims.replace_rooms",
    "claims-replace-drying-log": "claims.replace_drying_log",
    "claims-extract-claim": "claims.extract",
    "claims-import-claim-photos": "claims.import_photos",
    "claims-create-uploads": "claims.create_uploads",
    "claims-review-claim": "claims.review",
    "claims-add-claim-item": "claims.add_item",
}

NOT_IN_CLIENT: Final[dict[str, str]] = {
    "index-index": "the service's landing page outside /api/v1, links to the docs",
    "outreach-hooks-twilio-sms": "called by Twilio with its own request signature, not an API key",
    "outreach-hooks-twilio-status": "called by Twilio with its own request signature, not an API key",
    "outreach-hooks-email-inbound": "called by the inbound-mail relay with the inbound secret",
    "calls-hooks-callrail-webhook": "called by CallRail with its own signature, not an API key",
}

PARAMETER_NAMES: Final[dict[tuple[str, str], str]] = {
    ("leads-list-leads", "pipeline_stage"): "stage",
}
"""Query parameters the client names differently: (operationId, wire name) -> argument."""
