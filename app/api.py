"""Mounts every domain router under /v1: every route requires a principal (app.accounts.principal) unless its
router is one of the public ones, which opt out here, by name; and states in the OpenAPI document what the domains
enforce beyond their models."""

from typing import Any

from fastapi import APIRouter, Depends

from app.accounts.principal import get_principal
from app.accounts.router import (
    auth_router,
    invitation_router,
    org_router,
    password_reset_router,
    public_auth_router,
    public_invitation_router,
    user_router,
)
from app.audit.router import access_log_router
from app.audit.router import router as audit_router
from app.calendars.router import feed_router as calendar_feed_router
from app.calendars.router import router as calendar_subscriptions_router
from app.candidates.router import router as candidates_router
from app.events.router import router as events_router
from app.guidance.router import candidate_router as pathway_router
from app.guidance.router import cohort_router, cycles_router
from app.imports.router import export_router as export_router
from app.imports.router import router as imports_router
from app.matching.router import router as matching_router
from app.milestones.router import router as milestones_router
from app.milestones.router import types_router as milestone_types_router
from app.milestones.schemas import per_type_documentation
from app.pathway import load_rulebook
from app.privacy.router import router as privacy_router
from app.programs.router import lists_router as program_lists_router
from app.programs.router import router as programs_router
from app.usce.router import router as usce_router
from app.webhooks.router import deliveries_doc as webhook_deliveries_doc
from app.webhooks.router import router as webhooks_router

# The busiest first: route matching tries them in this order (the app holds their routes in one flat list).
# Every router requires a principal, except those listed in `public_routers`.
_ordered: tuple[APIRouter, ...] = (
    candidates_router,
    pathway_router,
    milestones_router,
    usce_router,
    program_lists_router,
    programs_router,
    milestone_types_router,
    public_auth_router,
    auth_router,
    password_reset_router,
    user_router,
    invitation_router,
    public_invitation_router,
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

# No credentials: signing in, resetting a password, accepting an invitation, a calendar feed (its URL is the secret).
public_routers: tuple[APIRouter, ...] = (
    public_auth_router,
    password_reset_router,
    public_invitation_router,
    calendar_feed_router,
)


def _mounted(router: APIRouter) -> APIRouter:
    public = any(router is p for p in public_routers)
    mounted = APIRouter() if public else APIRouter(dependencies=[Depends(get_principal)])
    mounted.include_router(router)
    return mounted


api_routers: tuple[APIRouter, ...] = tuple(_mounted(r) for r in _ordered)

# The OpenAPI document's tags, in the order a reader meets them.
api_tags: list[dict[str, str]] = [
    {"name": "auth", "description": "Sign in (OAuth2 password grant), renew with a refresh token, sign out, change "
                                    "or reset a password, and say who the credentials belong to."},
    {"name": "candidates", "description": "Candidate records: the international medical graduates an organization "
                                          "advises, and the facts every computed view starts from."},
    {"name": "milestones", "description": "A candidate's milestones (USMLE steps, OET, ECFMG certification, "
                                          "applications, ...) and the catalogue of milestone types."},
    {"name": "usce", "description": "A candidate's US clinical experience: electives, sub-internships, externships "
                                    "and observerships."},
    {"name": "programs", "description": "The catalogue of residency programs: what each sponsors and requires."},
    {"name": "program-lists", "description": "A candidate's lists of programs for a Match cycle, and each entry's "
                                             "status."},
    {"name": "pathway", "description": "Computed from a candidate's record for a Match cycle: next step, readiness, "
                                       "program screening, timeline (JSON or iCalendar), and the advisor's cohort."},
    {"name": "match-cycles", "description": "The rule sets of the supported Match cycles: dates with their sources, "
                                            "and what is estimated."},
    {"name": "match-simulations", "description": "Run a Match (the Roth-Peranson algorithm, couples included) on "
                                                 "rank order lists you send; nothing is stored."},
    {"name": "calendar-subscriptions", "description": "Calendar feed URLs for a candidate's timeline, to create, "
                                                      "list and revoke."},
    {"name": "calendar", "description": "The calendar feed itself: public, its URL is the secret."},
    {"name": "organizations", "description": "Organizations (advising offices), their settings and API keys."},
    {"name": "users", "description": "User accounts: admins, advisors and candidates."},
    {"name": "invitations", "description": "Invite someone to an account; they accept with the mailed token and "
                                           "choose their password."},
    {"name": "events", "description": "The change feed: every change to the records you can see, in order, with a "
                                      "cursor to resume from."},
    {"name": "webhooks", "description": "Webhook endpoints that receive the change feed, signed, and their "
                                        "deliveries."},
    {"name": "imports", "description": "Bulk imports of candidates and their records (JSON or NDJSON), applied by "
                                       "the worker; and an organization's full export."},
    {"name": "audit", "description": "The audit trail of an organization's changes, and a candidate's access log: "
                                     "who created, changed, deleted or exported their record."},
    {"name": "privacy", "description": "A candidate's rights over their personal data: access (an export of "
                                     "everything held) and erasure."},
    {"name": "health", "description": "Liveness and readiness probes, outside /v1."},
]

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


# The dates the service takes (app.core.types.SaneDate: 1900-01-01..2100-12-31), as a pattern on the year: JSON
# Schema has no bounds for `format: date`, and every day of the years 1900-2100 is inside the range.
DATE_RANGE_PATTERN = r"^(19[0-9]{2}|20[0-9]{2}|2100)-"


def _date_range(node: Any) -> None:
    """Every `format: date` of the document (parameters, bodies, and the answers, which hold only dates the service
    took or computed from the rule sets) says the years it may have."""
    if isinstance(node, dict):
        if node.get("format") == "date" and node.get("type") == "string":
            node.setdefault("pattern", DATE_RANGE_PATTERN)
        for value in node.values():
            _date_range(value)
    elif isinstance(node, list):
        for value in node:
            _date_range(value)


def refine_document(document: dict[str, Any]) -> None:
    """What the domains enforce beyond their pydantic models: the supported Match cycles, the range of dates, each
    milestone type's fields."""
    _cycle_bounds(document)
    _date_range(document["paths"])
    _date_range(document["components"]["schemas"])
    per_type_documentation(document["components"]["schemas"])
