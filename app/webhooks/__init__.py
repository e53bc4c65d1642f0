"""Signed webhooks: an organization's endpoints, fed from the change feed and delivered by the worker."""
