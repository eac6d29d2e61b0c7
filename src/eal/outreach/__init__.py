"""Outreach: the one sending path (SMS and email), suppressions and opt-outs, sequences, replies."""
