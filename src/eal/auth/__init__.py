"""API keys: generation, hashing, resolution and scope checks."""
