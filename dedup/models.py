"""Models of the dedup app."""
