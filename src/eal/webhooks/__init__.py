"""Outbound webhooks: signed deliveries to tenant endpoints, and the receiver-side verifier."""

from eal.webhooks.verify import WebhookVerificationError, verify

__all__ = ["WebhookVerificationError", "verify"]
