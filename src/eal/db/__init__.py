"""Database access: engines, the embedded server, tenant context and migrations."""
