"""Mounts every domain router under /v1, and states in the OpenAPI document what the domains enforce."""

from typing import Any

from fastapi import APIRouter

from app.accounts.router import auth_router, invitation_router, org_router, user_router
from app.audit.router import access_log_router
from app.audit.router import router as audit_router
from app.calendars.router import feed_router as calendar_feed_router
from app.calendars.router import router as calendar_subscriptions_router
from app.candidates.router import router as candidates_router
from app.events.router import router as events_router
from app.imports.router import export_router as export_router
from app.imports.router import router as imports_router
from app.matching.router import router as matching_router
from app.milestones.router import router as milestones_router
from app.milestones.router import types_router as milestone_types_router
from app.milestones.schemas import per_type_documentation
from app.pathway import load_rulebook
from app.pathway.router import candidate_router as pathway_router
from app.pathway.router import cohort_router, cycles_router
from app.privacy.router import router as privacy_router
from app.programs.router import lists_router as program_lists_router
from app.programs.router import router as programs_router
from app.usce.router import router as usce_router
from app.webhooks.router import deliveries_doc as webhook_deliveries_doc
from app.webhooks.router import router as webhooks_router

# Mounted directly on the app: one level of routers, the busiest first, keeps route matching cheap.
api_routers: tuple[APIRouter, ...] = (
    candidates_router,
    pathway_router,
    milestones_router,
    usce_router,
    program_lists_router,
    programs_router,
    milestone_types_router,
    auth_router,
    user_router,
    invitation_router,
    org_router,
    cohort_router,
    cycles_router,
    matching_router,
    events_router,
    audit_router,
    calendar_subscriptions_router,
    calendar_feed_router,
    webhooks_router,
    imports_router,
    export_router,
    access_log_router,
    privacy_router,
)

# The requests the service makes to its clients (the OpenAPI `webhooks` section).
api_webhooks: tuple[APIRouter, ...] = (webhook_deliveries_doc,)


def _cycle_bounds(document: dict[str, Any]) -> None:
    """Every `cycle` query parameter takes the Match years there is a rule set for, as loaded when the document is
    built (a year without one is refused with `unknown_cycle`)."""
    lo, hi = load_rulebook().supported_range
    for operations in document["paths"].values():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param["name"] == "cycle" and param["in"] == "query":
                    for schema in param["schema"].get("anyOf", [param["schema"]]):
                        if schema.get("type") == "integer":
                            schema.update(minimum=lo, maximum=hi)
                    param["description"] = (f"Match year, {lo}-{hi}: the cycles with a rule set (default: the "
                                            "candidate's target).")


def refine_document(document: dict[str, Any]) -> None:
    """What the domains enforce beyond their pydantic models: the supported Match cycles, each milestone type's
    fields."""
    _cycle_bounds(document)
    per_type_documentation(document["components"]["schemas"])
