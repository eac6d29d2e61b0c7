"""HTTP edge: middleware, routing with per-request transactions, error rendering."""
