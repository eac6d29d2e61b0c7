"""Leads: inbound and outbound lead records, their scoring and qualification."""
