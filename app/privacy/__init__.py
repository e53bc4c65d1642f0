"""Privacy rights: everything held about a candidate, as one document (the right of access)."""
