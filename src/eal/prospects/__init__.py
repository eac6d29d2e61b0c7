"""Prospects: outbound B2B records, their qualification and their outreach state."""
