"""Severe weather events an organization records for its service area (a lead-scoring signal)."""
