"""API keys as a resource: issuing and revoking them, with their audit entries (the auth layer resolves them)."""
