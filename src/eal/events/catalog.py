"""Every event the platform records, in one place.

`EventType` is the spec's list of webhook events (API reference, "Webhook
events"): what an endpoint may subscribe to. `Action` is every audit-log
action the code writes; an action whose value is also an `EventType` is sent
to that event's subscribers, and every action reaches `audit.log.event`
subscribers. `CONFIG_CHANGING` names the actions that change what is cached
per config revision, so recording one marks its transaction's config dirty.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """A webhook event an endpoint may subscribe to."""

    CALL_RECEIVED = "call.received"
    CALL_CLASSIFIED = "call.classified"
    CALL_QUALIFIED = "call.qualified"
    LEAD_CREATED = "lead.created"
    LEAD_UPDATED = "lead.updated"
    OUTREACH_EMAIL_SENT = "outreach.email.sent"
    OUTREACH_EMAIL_REPLIED = "outreach.email.replied"
    CLAIM_SCOPE_READY = "claim.scope.ready"
    REVIEW_REQUESTED = "review.requested"
    REVIEW_RECEIVED = "review.received"
    AUDIT_LOG_EVENT = "audit.log.event"
    """Subscribers receive every audit entry of their organization."""


AUDIT_STREAM = EventType.AUDIT_LOG_EVENT
EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
"""The event names, in the spec's order (validation messages list them so)."""


class Action(StrEnum):
    """An audit-log action."""

    ORGANIZATION_CREATED = "organization.created"
    ORGANIZATION_CHILD_CREATED = "organization.child_created"
    ORGANIZATION_UPDATED = "organization.updated"
    INVITE_ACCEPTED = "invite.accepted"
    GRANT_CREATED = "grant.created"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    SECRETS_ROTATED = "secrets.rotated"
    LEAD_CREATED = "lead.created"
    LEAD_UPDATED = "lead.updated"
    LEAD_SCORED = "lead.scored"
    LEAD_CRM_SYNCED = "lead.crm_synced"
    LEAD_CRM_SYNC_FAILED = "lead.crm_sync_failed"
    WEATHER_EVENT_RECORDED = "weather_event.recorded"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_UPDATED = "webhook.updated"
    WEBHOOK_DELETED = "webhook.deleted"
    WEBHOOK_DISABLED = "webhook.disabled"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated"
    WEBHOOK_REDELIVERED = "webhook.redelivered"
    OUTREACH_MESSAGE_QUEUED = "outreach.message.queued"
    OUTREACH_MESSAGE_STATUS = "outreach.message.status_changed"
    OUTREACH_EMAIL_SENT = "outreach.email.sent"
    OUTREACH_SMS_SENT = "outreach.sms.sent"
    OUTREACH_EMAIL_OPENED = "outreach.email.opened"
    OUTREACH_EMAIL_REPLIED = "outreach.email.replied"
    OUTREACH_SMS_RECEIVED = "outreach.sms.received"
    OUTREACH_SUPPRESSION_ADDED = "outreach.suppression.added"
    OUTREACH_SUPPRESSION_REMOVED = "outreach.suppression.removed"
    OUTREACH_SEQUENCE_CREATED = "outreach.sequence.created"
    OUTREACH_SEQUENCE_UPDATED = "outreach.sequence.updated"
    OUTREACH_SEQUENCE_ARCHIVED = "outreach.sequence.archived"
    OUTREACH_ENROLLMENT_CREATED = "outreach.enrollment.created"
    OUTREACH_ENROLLMENT_CHANGED = "outreach.enrollment.changed"
    OUTREACH_STEPS_QUEUED = "outreach.steps.queued"
    OUTREACH_INBOUND_SECRET_CREATED = "outreach.inbound_secret.created"
    CALL_RECEIVED = "call.received"
    CALL_UPDATED = "call.updated"
    CALL_TRANSCRIBED = "call.transcribed"
    CALL_TRANSCRIPTION_FAILED = "call.transcription_failed"
    CALL_CLASSIFIED = "call.classified"
    CALL_QUALIFIED = "call.qualified"
    CALL_CORRECTED = "call.corrected"
    CALL_DISPATCH_DECIDED = "call.dispatch_decided"
    CALL_DISPATCHED = "call.dispatched"
    CALL_DISPATCH_FAILED = "call.dispatch_failed"
    CONTENT_CREATED = "content.created"
    CONTENT_GENERATED = "content.generated"
    CONTENT_GENERATION_FAILED = "content.generation_failed"
    CONTENT_UPDATED = "content.updated"
    CONTENT_APPROVED = "content.approved"
    CONTENT_SCHEDULED = "content.scheduled"
    CONTENT_PUBLISHED = "content.published"
    CONTENT_PUBLISH_FAILED = "content.publish_failed"
    REVIEW_REQUESTED = "review.requested"
    REVIEW_RECEIVED = "review.received"
    PROSPECT_CREATED = "prospect.created"
    PROSPECT_UPDATED = "prospect.updated"
    PROSPECTS_IMPORTED = "prospects.imported"
    PROSPECT_QUALIFIED = "prospect.qualified"
    PROSPECT_QUALIFY_BATCH_QUEUED = "prospect.qualify_batch.queued"
    PROSPECT_ENROLLED = "prospect.enrolled"
    CLAIM_CREATED = "claim.created"
    CLAIM_ROOMS_UPDATED = "claim.rooms_updated"
    CLAIM_DRYING_LOG_UPDATED = "claim.drying_log_updated"
    CLAIM_PHOTO_ADDED = "claim.photo_added"
    CLAIM_PHOTOS_IMPORTED = "claim.photos_imported"
    CLAIM_IMPORT_FAILED = "claim.import_failed"
    CLAIM_SCOPE_READY = "claim.scope.ready"
    CLAIM_ITEM_REVIEWED = "claim.item_reviewed"
    CLAIM_ITEM_ADDED = "claim.item_added"
    CLAIM_REVIEWED = "claim.reviewed"
    CLAIM_REOPENED = "claim.reopened"

    @property
    def event_type(self) -> EventType | None:
        """The webhook event this action is, if it is one."""
        return _EVENT_OF.get(self)


_EVENT_OF: dict[Action, EventType] = {
    action: EventType(action.value)
    for action in Action
    if action.value in EventType._value2member_map_
}

CONFIG_CHANGING: frozenset[Action] = frozenset(
    {
        Action.ORGANIZATION_UPDATED,
        Action.WEATHER_EVENT_RECORDED,
        Action.WEBHOOK_CREATED,
        Action.WEBHOOK_UPDATED,
        Action.WEBHOOK_DELETED,
        Action.WEBHOOK_DISABLED,
    }
)
"""Actions that change an organization's settings, weather or webhook endpoints."""
