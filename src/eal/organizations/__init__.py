"""Organizations (tenants), child organizations, invites and parent read grants."""
