"""Bulk import of an organization's candidates (with their milestones, USCE records and program lists), keyed by
the organization's own ids, and the export that re-imports to the same state."""
