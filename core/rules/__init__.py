"""A store's rules: load caps, cycle rules, retries and the needs-analysis scoring, versioned."""
