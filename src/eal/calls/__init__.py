"""Calls: inbound calls from any tracker, classified, decided and dispatched."""
