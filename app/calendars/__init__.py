"""Calendar subscriptions: a revocable, read-only URL of a candidate's timeline for calendar apps, which cannot
send credentials in headers. The URL carries its own token; only the token's SHA-256 hash is stored."""
