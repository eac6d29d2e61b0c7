"""The audit log: listing, export, hash-chain verification and retention."""
